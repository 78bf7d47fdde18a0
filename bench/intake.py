"""Webhook intake through gunicorn on 127.0.0.1: signed CRM webhooks per second (max), p50/p99
at a fixed offered rate, and the ratio to a bare Django view inserting one row (same server,
same run). Not a test.

    python bench/intake.py [--rate 200] [--seconds 15] [--concurrency 8] [--web-workers 4]
                           [--rounds 5] [--no-rate-limit]

Requests are signed before the clock starts (Ed25519 over each body, as the CRM does), sent
over fresh loopback connections (gunicorn's sync workers close each one), and timed from
their scheduled send time, so queueing at the offered rate counts (no coordinated omission).

Fair to both sides: the bare view stores the same bodies the webhooks carry (unsigned), through
the same server, client and concurrency; the maximum rates are measured in `--rounds`
alternating rounds (intake then the bare views, then the bare views then intake, …) so a
neighbour's load on a shared machine, or its drift, falls on all, and the ratio is the median
of the rounds' ratios (each round in the same conditions; on this machine one round's ratio
ranges over ±0.1, hence five rounds by default). The ratio is to the bare view as every page
and API view runs it (MIDDLEWARE); since Round 10 the deliveries skip the pages' middleware
(portal/webhook_middleware.py), so `ratio_same_stack` is also given: to the same bare view
behind the deliveries' own WEBHOOK_MIDDLEWARE, i.e. what the intake's own work costs. Each
figure also gives the web workers' CPU per request (from /proc), less sensitive to such load
than a rate. The per-source rate limit stays on as shipped (its counting is part of every
delivery's cost), at a limit this one-address load never reaches; `--no-rate-limit` measures
without the counter, as the figures before 2026-11-29 14:00 UTC did. Since round 6 each web
process tells the shared counter a batch at a time (portal/throttle.py): at this limit one
round trip per 100 deliveries per process, at the default 100/second one per 10.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

SPECS = Path(__file__).resolve().parent.parent / "tests/specs/highlevel/webhooks"
LOCATION = "BenchIntakeLocation01"


def raw_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def send(port: int, request: bytes) -> int:
    """One request on a new connection; the HTTP status (0 when the connection failed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return 0
    head = b"".join(chunks)[:16].split(b" ")
    return int(head[1]) if len(head) > 1 and head[1].isdigit() else 0


def webhook_requests(n: int, key) -> list[bytes]:
    body = json.loads(_example_body()) | {"type": "ContactUpdate", "locationId": LOCATION}
    requests = []
    for _ in range(n):
        delivery = body | {"id": uuid.uuid4().hex[:20], "webhookId": str(uuid.uuid4())}
        delivery["timestamp"] = datetime.now(UTC).isoformat()
        raw = json.dumps(delivery).encode()
        signature = base64.b64encode(key.sign(raw)).decode()
        requests.append(raw_request("/webhooks/highlevel/", raw, {"x-ghl-signature": signature}))
    return requests


BARE_PATHS = {"bare": "/bench/bare-insert/", "bare_webhook_stack": "/webhooks/bench-bare-insert/"}


def bare_requests(n: int, kind: str = "bare") -> list[bytes]:
    """The same bodies as webhook_requests (the same bytes to store), without a signature."""
    body = json.loads(_example_body()) | {"type": "ContactUpdate", "locationId": LOCATION}
    requests = []
    for _ in range(n):
        delivery = body | {"id": uuid.uuid4().hex[:20], "webhookId": str(uuid.uuid4())}
        delivery["timestamp"] = datetime.now(UTC).isoformat()
        requests.append(raw_request(BARE_PATHS[kind], json.dumps(delivery).encode(), {}))
    return requests


def _example_body() -> str:
    example = SPECS / "ContactUpdate.json"
    return json.dumps(json.loads(example.read_text())["example"] if example.exists() else {})


def web_cpu_seconds(master_pid: int) -> float:
    """CPU (user + system) used so far by gunicorn's workers and master (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == master_pid or int(fields[1]) == master_pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def max_rate(port: int, master_pid: int, requests: list[bytes], args) -> dict:
    """closed_loop, plus the web workers' CPU per completed request."""
    before = web_cpu_seconds(master_pid)
    result = closed_loop(port, requests, args.concurrency, args.seconds)
    used = web_cpu_seconds(master_pid) - before
    return result | {"web_cpu_ms": round(used * 1000 / max(result["ok"], 1), 3)}


def closed_loop(port: int, requests: list[bytes], concurrency: int, seconds: float) -> dict:
    """As fast as `concurrency` clients go, for at most `seconds`: completed per second."""
    index, lock, ok, errors = [0], threading.Lock(), [0], [0]
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                if index[0] >= len(requests):
                    return
                request, index[0] = requests[index[0]], index[0] + 1
            status = send(port, request)
            with lock:
                (ok if status == 200 else errors)[0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"per_second": round(ok[0] / elapsed, 1), "ok": ok[0], "errors": errors[0]}


def open_loop(port: int, requests: list[bytes], rate: float, pool: int = 64) -> dict:
    """Request i is due at start + i/rate; latency counts from then (queueing included)."""
    latencies: list[float] = []
    errors, index, lock = [0], [0], threading.Lock()
    start = time.perf_counter() + 0.2

    def client() -> None:
        while True:
            with lock:
                if index[0] >= len(requests):
                    return
                i, index[0] = index[0], index[0] + 1
            due = start + i / rate
            time.sleep(max(due - time.perf_counter(), 0))
            status = send(port, requests[i])
            elapsed = (time.perf_counter() - due) * 1000
            with lock:
                latencies.append(elapsed) if status == 200 else None
                errors[0] += status != 200

    threads = [threading.Thread(target=client) for _ in range(pool)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "p50_ms": round(harness.percentile(latencies, 50), 1),
        "p99_ms": round(harness.percentile(latencies, 99), 1),
        "ok": len(latencies),
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5, help="alternating max-rate rounds")
    parser.add_argument("--no-rate-limit", action="store_true", help="without its counter")
    args = parser.parse_args()

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # On (as shipped) but never reached by this one-address load: its counter is counted.
    limit = "" if args.no_rate_limit else "1000000/second"
    env = harness.portal_env(
        harness.fresh_database("intake"),
        HIGHLEVEL_WEBHOOK_PUBLIC_KEYS=pem.decode(),
        WEBHOOK_RATE_LIMIT=limit,
    )
    harness.flush_redis()
    harness.setup_django(env)
    from django.db import connection

    from bench.urls import BARE_TABLE
    from portal.models import Workspace
    from sync.models import Connection, InboundEvent

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {BARE_TABLE} (id bigserial PRIMARY KEY, body text)")
    workspace = Workspace.objects.create(name="Intake", location_id=LOCATION)
    Connection.objects.create(
        workspace=workspace, provider="highlevel", name="CRM", slug="crm", primary=True,
        base_url="https://services.leadconnectorhq.com", credentials={"token": "bench"},
        location_id=LOCATION,
    )  # fmt: skip
    web, base = harness.gunicorn(env, workers=args.web_workers)
    port = int(base.rsplit(":", 1)[1])
    try:
        n_fixed = int(args.rate * args.seconds)
        n_max = int(args.seconds * 3000)
        warm_up = [webhook_requests(200, key), *(bare_requests(200, kind) for kind in BARE_PATHS)]
        for requests in warm_up:
            closed_loop(port, requests, args.concurrency, 10)  # warm-up: imports, connections
        intake_fixed = open_loop(port, webhook_requests(n_fixed, key), args.rate)
        bare_fixed = open_loop(port, bare_requests(n_fixed), args.rate)
        rounds = []
        for number in range(args.rounds):
            kinds = ["intake", *BARE_PATHS]
            kinds = kinds if number % 2 == 0 else kinds[::-1]  # ABBA
            requests = {kind: bare_requests(n_max, kind) for kind in BARE_PATHS}
            requests["intake"] = webhook_requests(n_max, key)
            rounds.append(
                {kind: max_rate(port, web.popen.pid, requests[kind], args) for kind in kinds}
            )
    finally:
        web.stop()
    stored = InboundEvent.objects.count()

    def ratio(baseline: str) -> list[float]:
        return [r["intake"]["per_second"] / max(r[baseline]["per_second"], 0.1) for r in rounds]

    harness.report(
        "intake",
        offered_rate=args.rate,
        web_workers=args.web_workers,
        rate_limit=limit or "off",
        intake_at_rate=intake_fixed,
        bare_at_rate=bare_fixed,
        intake_max=max((r["intake"] for r in rounds), key=lambda r: r["per_second"]),
        bare_max=max((r["bare"] for r in rounds), key=lambda r: r["per_second"]),
        ratio=round(statistics.median(ratio("bare")), 2),
        round_ratios=[round(value, 2) for value in ratio("bare")],
        ratio_same_stack=round(statistics.median(ratio("bare_webhook_stack")), 2),
        same_stack_ratios=[round(value, 2) for value in ratio("bare_webhook_stack")],
        rounds=rounds,
        events_stored=stored,
        load_average=[round(x, 2) for x in os.getloadavg()],
    )


if __name__ == "__main__":
    main()
