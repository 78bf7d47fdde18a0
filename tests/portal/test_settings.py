import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 60 + "production-like-secret",
    "FERNET_KEYS": "Xy8wN2s0T3R1c3Q5Y2xhcmF0ZXN0a2V5MDEyMzQ1Njc=",
    "ALLOWED_HOSTS": "portal.example.com",
}


def _manage(*args, env_overrides, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", *PRODUCTION_ENV}}
    env.update({"DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_ENV_FILE": ""})
    env.update({k: v for k, v in env_overrides.items() if k not in drop})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FERNET_KEYS", "ALLOWED_HOSTS"])
def test_production_mode_refuses_to_start_without(missing):
    result = _manage("check", env_overrides=PRODUCTION_ENV, drop={missing})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_deploy_check_is_clean_in_production_mode():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_database_is_tuned_for_concurrent_web_and_worker(db):
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == 20000
        assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    else:
        assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_warning_is_logged_once():
    probe = (
        "import django, logging; django.setup(); import django_q.conf; "
        "[logging.getLogger(n).warning('probe %s', n) for n in "
        "('django.request', 'sync.engine.push', 'django-q')]"
    )
    env = {**{k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV},
           "DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_ENV_FILE": "", "DEBUG": "1",
           "SECRET_KEY": "s" * 50, "FERNET_KEYS": PRODUCTION_ENV["FERNET_KEYS"]}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    for name in ("django.request", "sync.engine.push", "django-q"):
        assert done.stderr.count(f"probe {name}") == 1, done.stderr


def test_the_access_log_skips_static_files_and_the_favicon(monkeypatch):
    from gunicorn.glogging import Logger

    from portal.gunicorn_logging import QuietStaticLogger

    logged = []
    monkeypatch.setattr(
        Logger, "access", lambda self, resp, req, environ, t: logged.append(environ)
    )
    logger = QuietStaticLogger.__new__(QuietStaticLogger)  # no gunicorn config needed here
    for path in ("/static/admin/css/base.css", "/favicon.ico", "/admin/"):
        logger.access(None, None, {"PATH_INFO": path}, None)
    assert [environ["PATH_INFO"] for environ in logged] == ["/admin/"]


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith(".svg")
