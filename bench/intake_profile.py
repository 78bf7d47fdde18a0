"""Where a signed webhook's CPU goes, against the bare insert's: both requests through the
portal's WSGI application in this process (no server, no network, no client), on PostgreSQL +
Redis as bench/intake.py sets them up. Not a test.

    python bench/intake_profile.py [--batches 10] [--batch 300]
    valgrind --tool=callgrind --instr-atstart=no python bench/intake_profile.py --instructions
        # then: grep -H totals callgrind.out.*.*  (dumps "intake" and "bare", one batch each)

Batches of intake and bare requests alternate, so a neighbour's load falls on both (the bare
view at its two paths: behind MIDDLEWARE, as pages run it, and behind the deliveries'
WEBHOOK_MIDDLEWARE, bench/urls.py); each figure is the median over the batches of this
process's CPU time (`time.process_time`) per request. The intake's stages are timed by
wrapping the functions that do them (their CPU, blocking waits for PostgreSQL or Redis
included: a round trip costs its system calls and its context switches); the rest of the
request (Django's handler, the deliveries' middleware, DRF's dispatch) is "outside the stages".
Stages nest: `insert` is part of `store`.

`--instructions` counts instead of timing: under callgrind, instrumentation is switched on for
one batch of each kind and dumped under its name; the instructions a request executes in this
process do not depend on the machine's other load, as its CPU time does (system calls and the
PostgreSQL and Redis servers are not counted).
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench import intake as bench_intake


def prepared_database():
    """bench/intake.py's set-up (fresh database, the bare table, one CRM connection, the rate
    limit on as shipped); the private key its webhooks are signed with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    env = harness.portal_env(
        harness.fresh_database("intake"),
        HIGHLEVEL_WEBHOOK_PUBLIC_KEYS=pem.decode(),
        WEBHOOK_RATE_LIMIT="1000000/second",
    )
    harness.flush_redis()
    harness.setup_django(env)
    from django.db import connection

    from bench.urls import BARE_TABLE
    from portal.models import Workspace
    from sync.models import Connection

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {BARE_TABLE} (id bigserial PRIMARY KEY, body text)")
    workspace = Workspace.objects.create(name="Intake", location_id=bench_intake.LOCATION)
    Connection.objects.create(
        workspace=workspace, provider="highlevel", name="CRM", slug="crm", primary=True,
        base_url="https://services.leadconnectorhq.com", credentials={"token": "bench"},
        location_id=bench_intake.LOCATION,
    )  # fmt: skip
    connection.close()  # the application opens its own, as a fresh web process does
    return key


def wsgi_environ(request: bytes) -> dict:
    """The WSGI environ gunicorn would make of one of bench/intake.py's raw requests."""
    head, body = request.split(b"\r\n\r\n", 1)
    request_line, *header_lines = head.decode().split("\r\n")
    method, path, _protocol = request_line.split(" ")
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.version": (1, 0),
    }  # fmt: skip
    for line in header_lines:
        name, value = line.split(": ", 1)
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return environ


def serve(app, requests: list[bytes]) -> float:
    """CPU seconds this process spent answering `requests`; every answer must be a 200."""
    statuses: list[str] = []

    def start_response(status: str, headers, exc_info=None) -> None:
        statuses.append(status)

    started = time.process_time()
    for request in requests:
        response = app(wsgi_environ(request), start_response)
        b"".join(response)
        response.close()
    refused = [status for status in statuses if not status.startswith("200")]
    if refused:
        raise RuntimeError(f"answered {refused[0]} ({len(refused)} times)")
    return time.process_time() - started


def timed_stages() -> Counter:
    """Wrap the intake's stages; returns the counter their CPU seconds add up in."""
    from sync.connectors import webhook_receiver
    from sync.inbound import intake, views

    spent: Counter = Counter()
    receiver = type(webhook_receiver("highlevel"))
    stages = [
        (views, "_throttle", "rate-limit counter (Redis)"),
        (views, "_raw_body", "raw body and its checks"),
        (receiver, "verify", "signature (Ed25519)"),
        (views, "_json_object", "JSON parse"),
        (receiver, "read", "delivery fields and timestamp"),
        (intake, "cached_route", "routing (cached)"),
        (intake, "kept_headers", "kept headers"),
        (intake, "_describe_record", "record described"),
        (intake, "_store", "store (row, insert, wake)"),
        (intake, "_insert", "insert (PostgreSQL, autocommit)"),
        (views.ProviderWebhookView, "post", "view's post()"),
    ]
    for owner, name, label in stages:
        setattr(owner, name, _timing(getattr(owner, name), spent, label))
    return spent


def _timing(function, spent: Counter, label: str):
    @functools.wraps(function)
    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started

    return timed


def count_instructions(app, key, batch: int) -> None:
    pid = str(os.getpid())

    def callgrind_control(*options: str) -> None:
        command = ["callgrind_control", *options, pid]  # valgrind's own tool, on this process
        subprocess.run(command, check=True, capture_output=True)  # noqa: S603

    for kind, requests in (
        ("intake", bench_intake.webhook_requests(batch, key)),
        ("bare", bench_intake.bare_requests(batch)),
    ):
        callgrind_control("-z")
        callgrind_control("-i", "on")
        serve(app, requests)
        callgrind_control("-i", "off")
        callgrind_control("-d", kind)
    print(f"dumped 'intake' and 'bare' ({batch} requests each): instructions = totals / {batch}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--instructions", action="store_true", help="under callgrind")
    args = parser.parse_args()

    key = prepared_database()
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    serve(app, bench_intake.webhook_requests(200, key))  # warm-up: imports, connections
    serve(app, bench_intake.bare_requests(200))
    serve(app, bench_intake.bare_requests(200, "bare_webhook_stack"))
    if args.instructions:
        count_instructions(app, key, args.batch)
        return
    spent = timed_stages()
    spent.clear()
    intake_cpu, bare_cpu, same_stack_cpu = [], [], []
    for _ in range(args.batches):
        intake_cpu.append(serve(app, bench_intake.webhook_requests(args.batch, key)))
        bare_cpu.append(serve(app, bench_intake.bare_requests(args.batch)))
        same_stack_requests = bench_intake.bare_requests(args.batch, "bare_webhook_stack")
        same_stack_cpu.append(serve(app, same_stack_requests))
    per_request = 1e6 / args.batch
    served = args.batches * args.batch
    intake_us = statistics.median(intake_cpu) * per_request
    bare_us = statistics.median(bare_cpu) * per_request
    same_stack_us = statistics.median(same_stack_cpu) * per_request
    stages = {label: round(seconds * 1e6 / served, 1) for label, seconds in spent.items()}
    stages["outside the stages (handler, middleware, DRF)"] = round(
        sum(intake_cpu) * 1e6 / served - stages["view's post()"], 1
    )
    harness.report(
        "intake_profile",
        intake_cpu_us=round(intake_us, 1),
        bare_cpu_us=round(bare_us, 1),
        intake_over_bare=round(intake_us / bare_us, 2),
        bare_webhook_stack_cpu_us=round(same_stack_us, 1),
        intake_over_bare_same_stack=round(intake_us / same_stack_us, 2),
        intake_stages_us=stages,
        requests_each=served,
        load_average=[round(x, 2) for x in os.getloadavg()],
    )


if __name__ == "__main__":
    main()
