"""Shared plumbing of the benchmarks and the chaos run (not a test, not part of CI).

- a fresh PostgreSQL database per figure (`bench_<name>`, or the one BENCH_DATABASE names on a
  shared server) and Redis db 7 (BENCH_REDIS), with the portal's production settings (DEBUG=0)
  plus bench/settings.py's bare-insert view;
- the portal's processes (gunicorn, django-q2 `qcluster`) as child process groups, each
  stopped by the harness (and killable with `kill -9`, for the chaos run);
- the sandbox CRM in this process, a CRM connection to it, signed CRM webhooks, a partner
  endpoint (`Sink`) with webhook connections to it, percentiles, and one `RESULT {json}` line
  per figure on stdout, which bench/run.py collects.

Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    """Drop and create `bench_<name>` (or BENCH_DATABASE: one name for every figure, which run
    one after the other, for a server shared with other users); returns its URL."""
    import psycopg

    db = os.environ.get("BENCH_DATABASE") or f"bench_{name}"
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


def webhook_connection(workspace: Any, url: str, slug: str, **fields: Any) -> Any:
    """An unsaved partner webhook connection (contacts out, nothing else) to `url`, its rate
    limit lifted: `.save()` it, or bulk_create many."""
    from sync.models import Connection

    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()  # the documented format
    defaults = {
        "provider": "webhook",
        "base_url": url,
        "credentials": {"secrets": [{"secret": secret, "expires_at": None}]},
        "options": {"event_types": ["contact.created", "contact.updated"]},
        "rate_limit_requests": 1_000_000,
        "rate_limit_interval_seconds": 1,
        "rate_limit_daily": 100_000_000,
        **{f"{t}s_direction": "off" for t in ("user", "task", "note", "appointment")},
        "contacts_direction": "out",
    }
    return Connection(workspace=workspace, name=slug, slug=slug, **(defaults | fields))


class Sink:
    """A partner endpoint in this process: answers 200 at once and notes when each delivery
    arrived (perf_counter), its path and its JSON body. No limit, no verification."""

    def __init__(self) -> None:
        self._arrivals: list[tuple[float, str, bytes]] = []
        self._per_path: dict[str, int] = {}
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the portal's client keeps its connection
            # Headers and body go out in two writes: without TCP_NODELAY the second waits for
            # the client's delayed ACK (40 ms a delivery, the sink would be the bound).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                with sink._lock:
                    sink._arrivals.append((arrived, self.path, body))
                    sink._per_path[self.path] = sink._per_path.get(self.path, 0) + 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, path: str | None = None) -> int:
        """Deliveries so far (to `path` only, if given)."""
        with self._lock:
            return len(self._arrivals) if path is None else self._per_path.get(path, 0)

    def deliveries(self, start: int = 0) -> list[tuple[float, str, dict]]:
        """(arrival, path, body) of the deliveries from index `start` on."""
        with self._lock:
            arrivals = self._arrivals[start:]
        return [(at, path, json.loads(body)) for at, path, body in arrivals]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signing_key() -> tuple[Any, str]:
    """A fresh Ed25519 key as the CRM signs webhooks with, and its public key (PEM) for
    HIGHLEVEL_WEBHOOK_PUBLIC_KEYS."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem.decode()


def signed_webhook(key: Any, body: dict[str, Any]) -> tuple[bytes, str]:
    """A CRM delivery as sent: the raw body and its `x-ghl-signature` (Ed25519, base64)."""
    raw = json.dumps(body).encode()
    return raw, base64.b64encode(key.sign(raw)).decode()


class CpuMeter:
    """CPU time used while a figure runs, by kind of process: this bench process, the gunicorn
    and qcluster processes it started (and their workers), and PostgreSQL's backends serving
    `database` ("": none, SQLite). Linux /proc, sampled every 0.5 s in a thread; a process
    that exits keeps the time seen last."""

    KINDS = (("gunicorn", "web"), ("qcluster", "workers"))

    def __init__(self, database: str) -> None:
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self._done = threading.Event()
        self._sample(initial=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        """CPU seconds per kind since the meter started."""
        self._done.set()
        self._thread.join()
        self._sample()
        used: dict[str, float] = {}
        for pid, (kind, seconds) in self.last.items():
            used[kind] = used.get(kind, 0.0) + seconds - self.first.get(pid, 0.0)
        return {kind: round(seconds, 2) for kind, seconds in sorted(used.items())}

    def _run(self) -> None:
        while not self._done.wait(0.5):
            self._sample()

    def _sample(self, initial: bool = False) -> None:
        for pid, seconds, kind in self._measured():
            self.first.setdefault(pid, seconds if initial else 0.0)
            self.last[pid] = (kind, seconds)

    def _measured(self) -> list[tuple[int, float, str]]:
        rows = _processes()
        children: dict[int, list[int]] = {}
        for pid, parent, _seconds, _cmdline in rows:
            children.setdefault(parent, []).append(pid)
        mine, ours, todo = os.getpid(), set(), [os.getpid()]
        while todo:
            pid = todo.pop()
            ours.add(pid)
            todo.extend(children.get(pid, []))
        measured = []
        for pid, _parent, seconds, cmdline in rows:
            if pid == mine:
                kind = "bench (client, sink, CRM)"
            elif pid in ours:
                kind = next((kind for word, kind in self.KINDS if word in cmdline), "other")
            elif self.database and f" {self.database} " in cmdline and "postgres:" in cmdline:
                kind = "postgresql"
            else:
                continue
            measured.append((pid, seconds, kind))
        return measured


def _processes() -> list[tuple[int, int, float, str]]:
    """(pid, parent pid, CPU seconds, command line) of every process."""
    ticks = os.sysconf("SC_CLK_TCK")
    rows = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue  # gone meanwhile
        rows.append((int(entry), int(stat[1]), (int(stat[11]) + int(stat[12])) / ticks, cmdline))
    return rows


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
