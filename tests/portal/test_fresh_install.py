"""A fresh install: `migrate` alone (the usual deploy step) gives a working portal."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str) -> None:
    for _ in range(300):  # bounded: at most ~30 s for the server to start
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_migrate_then_runserver_then_an_api_call_with_a_fresh_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "tests.settings",  # test secrets; the cache is the database's
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
    }
    manage(env, "migrate", "--noinput")  # and nothing else: no createcachetable
    manage(env, "workspaces", "add", "--name", "North", "--location-id", "locNorth")
    token = manage(env, "apikeys", "create", "--name", "t", "--scopes", "contacts.readonly")
    token = token.strip().splitlines()[-1]

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/healthz")
        resp = requests.get(
            base + "/api/v1/contacts/", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["results"] == []
