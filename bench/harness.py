"""Shared plumbing of the benchmarks and the chaos run (not a test, not part of CI).

- a fresh PostgreSQL database per figure (`bench_<name>`) and Redis db 7, with the portal's
  production settings (DEBUG=0) plus bench/settings.py's bare-insert view;
- the portal's processes (gunicorn, django-q2 `qcluster`) as child process groups, each
  stopped by the harness (and killable with `kill -9`, for the chaos run);
- the sandbox CRM in this process, a CRM connection to it, percentiles, and one
  `RESULT {json}` line per figure on stdout, which bench/run.py collects.

Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://portal:portal@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6390/7")
WORK = Path(tempfile.mkdtemp(prefix="portal-bench-"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_database(name: str) -> str:
    """Drop and create `bench_<name>`; returns its URL."""
    import psycopg

    db = f"bench_{name}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db}")
    return f"{PG}/{db}"


def test_client_env() -> None:
    """This process as a test-client figure: the portal's settings, throwaway keys, quiet logs
    (bench/webhook_intake.py, bench/console.py; DATABASE_URL is theirs to set)."""
    import base64

    os.environ["PORTAL_ENV_FILE"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("FERNET_KEYS", base64.urlsafe_b64encode(os.urandom(32)).decode())
    os.environ.setdefault("WEBHOOK_RATE_LIMIT", "")  # one client sends the whole load


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS).flushdb()


def portal_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of every portal process of one figure (production mode, loopback)."""
    env = {
        "PORTAL_ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "FERNET_KEYS": "Xy8wN2s0T3R1c3Q5Y2xhcmF0ZXN0a2V5MDEyMzQ1Njc=",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "BEHIND_TLS_PROXY": "0",
        "SSRF_ALLOWED_HOSTS": "127.0.0.1",
        # Every figure's load comes from one loopback address: the per-source limit is off.
        "WEBHOOK_RATE_LIMIT": "",
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS,
        "LOG_LEVEL": "WARNING",
        "Q_CLUSTER_NAME": f"bench{os.getpid()}",
    }
    return env | extra


def setup_django(env: dict[str, str]) -> None:
    """Configure this process like the portal's and migrate the fresh database."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Process:
    """A portal process in its own process group (gunicorn and qcluster fork children)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log = open(WORK / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self.popen: subprocess.Popen | None = None

    def start(self) -> Process:
        self.popen = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
            self.argv,
            cwd=ROOT,
            env=os.environ | self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def signal(self, signum: int) -> None:
        if self.popen and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def kill9(self) -> None:
        """`kill -9` the whole group: the parent and every worker it forked."""
        self.signal(signal.SIGKILL)
        if self.popen:
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        self.signal(signal.SIGTERM)
        if self.popen:
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.log.close()


def gunicorn(env: dict[str, str], workers: int = 4) -> tuple[Process, str]:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", str(workers), "--log-level", "warning"]
    proc = Process("gunicorn", argv, env).start()
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(f"{base}/healthz"), 30, "gunicorn did not start")
    return proc, base


def qcluster(env: dict[str, str], workers: int = 2) -> Process:
    argv = [sys.executable, "manage.py", "qcluster"]
    return Process("qcluster", argv, env | {"Q_WORKERS": str(workers)}).start()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
    except urllib.error.HTTPError:
        return True  # 503 while no worker heartbeat yet: the server is up
    except OSError:
        return False
    return True


def wait_until(predicate: Any, timeout: float, message: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(message)
        time.sleep(every)


def sandbox_crm(name: str, **options: Any) -> Any:
    """A started sandbox CRM (its own SQLite file) serving on a free loopback port."""
    from sandbox import SandboxCRM

    crm = SandboxCRM(str(WORK / f"{name}.sqlite3"), **options)
    crm.start()
    return crm


def crm_connection(workspace: Any, crm: Any, name: str, **fields: Any) -> Any:
    """A HighLevel connection to a sandbox CRM (the connector speaks plain HTTP to it)."""
    from sandbox import DEFAULT_TOKEN
    from sync.models import Connection

    defaults = {
        "provider": "highlevel",
        "base_url": crm.base_url,
        "credentials": {"token": DEFAULT_TOKEN},
        "location_id": crm.config.location_id,
        "company_id": crm.config.company_id,
    }
    return Connection.objects.create(
        workspace=workspace, name=name, slug=name, **(defaults | fields)
    )


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of unsorted values; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(round(p / 100 * len(ordered) + 0.5) - 1, 0)
    return ordered[min(rank, len(ordered) - 1)]


def report(figure: str, **values: Any) -> None:
    """One figure's result, for bench/run.py (and readable by itself)."""
    print("RESULT " + json.dumps({"figure": figure, **values}), flush=True)
