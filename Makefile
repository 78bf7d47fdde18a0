# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run demo test lint format setup migrate bench chaos

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed
	@$(PY) -m portal.envfile .env

migrate: setup
	$(PY) manage.py migrate --noinput

## run: web app and worker in the foreground on SQLite (Ctrl-C stops both)
run: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin
	$(PY) manage.py serve --port $(PORT)

## demo: `run` plus the sandbox CRM (port CRM_PORT) and demo data on both sides (Ctrl-C stops all)
CRM_PORT ?= 8765
demo: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py ensure_admin
	SSRF_ALLOWED_HOSTS=127.0.0.1 $(PY) manage.py demo --port $(PORT) --crm-port $(CRM_PORT)

## test: the whole suite (DATABASE_URL / REDIS_URL select PostgreSQL / Redis)
test: $(VENV)/.installed
	$(VENV)/bin/pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: figures on this machine (PostgreSQL, Redis, sandbox CRM) → table + bench/results.json
bench: $(VENV)/.installed
	.ci/services
	$(PY) bench/run.py $(BENCH_ARGS)

## chaos: kill -9 the worker, CRM faults, a PostgreSQL restart; fails unless nothing is lost
chaos: $(VENV)/.installed
	.ci/services
	$(PY) bench/chaos.py $(CHAOS_ARGS)
