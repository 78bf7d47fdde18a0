"""The whole sync path at load (not a test): signed CRM webhooks in → inbound processing into
the mirror → outbox → pushes to an unlimited partner endpoint out, sustained.

    python bench/fullpath.py [--backend postgres|embedded] [--seconds 60] [--rate 250]
                             [--workers 2] [--web-workers 2]

`postgres`: PostgreSQL + Redis (the bench default); `embedded`: `make run`'s default, SQLite
and django-q2's ORM broker. Either way gunicorn takes the webhooks and one django-q2 cluster
(`--workers` processes) does the rest. `--rate` ContactCreate webhooks per second are offered
open loop (each signed beforehand, sent at its scheduled time, whatever came before), each
creating one contact that the workspace's partner webhook connection — pointing at a sink in
this process, rate limit lifted — delivers. Figures: records/s accepted and delivered, the
lag from a webhook's 200 to its delivery at the sink (p50/p99), over every record, and the CPU
each kind of process used per delivered record (web, workers, PostgreSQL, this process) from
the window's start to the last delivery: where the machine's time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.intake import SPECS, raw_request, send

# The offered rate by default: each backend's target (issue 19).
DEFAULT_RATE = {"postgres": 250.0, "embedded": 100.0}


def contact_create_body(location_id: str, seq: int) -> dict[str, Any]:
    """The documented ContactCreate example as a new contact number `seq` of this location."""
    example = json.loads((SPECS / "ContactCreate.json").read_text())["example"]
    for unknown_elsewhere in ("customFields", "assignedTo", "attachments"):
        example.pop(unknown_elsewhere, None)  # ids the bench location does not have
    now = datetime.now(UTC).isoformat()
    return example | {
        "locationId": location_id,
        "id": f"Fp{seq:018d}",
        "firstName": "Full",
        "lastName": f"Path{seq}",
        "name": f"Full Path{seq}",
        "email": f"fp{seq}@bench.test",
        "phone": f"+1555{seq:07d}",
        "dateAdded": now,
        "timestamp": now,
        "webhookId": str(uuid.uuid4()),
    }


def seq_of(delivery: dict[str, Any]) -> int | None:
    email = (delivery.get("data") or {}).get("email") or ""
    digits = email.removeprefix("fp").split("@")[0]
    return int(digits) if email.startswith("fp") and digits.isdigit() else None


class Pipeline:
    """A migrated database, gunicorn, one worker cluster, a CRM connection and a sink."""

    def __init__(self, backend: str, workers: int, web_workers: int) -> None:
        self.crm = harness.sandbox_crm(f"fullpath-{backend}", rate_limit=0)
        self.sink = harness.Sink()
        self.key, public_key = harness.signing_key()
        self.database_name = ""
        if backend == "postgres":
            database, redis = harness.fresh_database("fullpath"), harness.REDIS
            self.database_name = database.rsplit("/", 1)[1]
            harness.flush_redis()
        else:
            database, redis = f"sqlite:///{harness.WORK / 'fullpath.sqlite3'}", ""
        env = harness.portal_env(
            database, REDIS_URL=redis, HIGHLEVEL_WEBHOOK_PUBLIC_KEYS=public_key,
            RECONCILE_REPAIR="0",
        )  # fmt: skip
        harness.setup_django(env)
        from django.db import connection

        from portal.models import Workspace

        self.location = self.crm.config.location_id
        workspace = Workspace.objects.create(name="Full path", location_id=self.location)
        harness.crm_connection(
            workspace, self.crm, "crm", primary=True,
            rate_limit_requests=1_000_000, rate_limit_interval_seconds=1,
        )  # fmt: skip
        harness.webhook_connection(workspace, f"{self.sink.url}/partner", "partner").save()
        connection.close()  # SQLite: this process holds no lock while the portal runs
        self.web, base = harness.gunicorn(env, workers=web_workers)
        self.port = int(base.rsplit(":", 1)[1])
        self.worker = harness.qcluster(env, workers)

    def request(self, seq: int) -> bytes:
        raw, signature = harness.signed_webhook(self.key, contact_create_body(self.location, seq))
        return raw_request("/webhooks/highlevel/", raw, {"x-ghl-signature": signature})

    def stop(self) -> None:
        self.worker.stop()
        self.web.stop()
        self.sink.stop()
        self.crm.stop()


def offer(pipeline: Pipeline, first: int, count: int, rate: float) -> dict[int, float]:
    """Webhooks first..first+count-1, request i due at start + i/rate (open loop): the moment
    each was answered 200 (perf_counter), by sequence number."""
    requests = [pipeline.request(first + i) for i in range(count)]  # signed before the clock
    accepted: dict[int, float] = {}
    index, lock = [0], threading.Lock()
    start = time.perf_counter() + 0.2

    def client() -> None:
        while True:
            with lock:
                if index[0] >= count:
                    return
                i, index[0] = index[0], index[0] + 1
            time.sleep(max(start + i / rate - time.perf_counter(), 0))
            if send(pipeline.port, requests[i]) == 200:
                accepted[first + i] = time.perf_counter()

    threads = [threading.Thread(target=client) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted


def delivered_at(sink: harness.Sink) -> dict[int, float]:
    """Each record's first delivery at the sink, by sequence number."""
    first: dict[int, float] = {}
    for at, _path, body in sink.deliveries():
        seq = seq_of(body)
        if seq is not None and seq not in first:
            first[seq] = at
    return first


def mirror_rate() -> dict[str, Any]:
    """The webhooks processed into the mirror: how many, and per second from the first to the
    last (the inbound half of the path, whatever the pushes did)."""
    from django.db.models import Count, Max, Min

    from sync.models import InboundEvent

    done = InboundEvent.objects.exclude(processed_at=None).aggregate(
        n=Count("id"), first=Min("processed_at"), last=Max("processed_at")
    )
    span = (done["last"] - done["first"]).total_seconds() if done["n"] > 1 else 0
    return {"processed": done["n"], "per_s": round(done["n"] / span, 1) if span else None}


def measure(backend: str, seconds: float, rate: float, workers: int, web_workers: int) -> None:
    pipeline = Pipeline(backend, workers, web_workers)
    try:
        warm = offer(pipeline, 0, 20, 10)  # imports, connections, the worker's first tasks
        harness.wait_until(lambda: pipeline.sink.count() >= len(warm), 120, "warm-up not pushed")
        skip, total = pipeline.sink.count(), int(seconds * rate)
        meter = harness.CpuMeter(pipeline.database_name)
        began = time.perf_counter()
        accepted = offer(pipeline, 1000, total, rate)
        sent_for = time.perf_counter() - began
        in_window = pipeline.sink.count() - skip
        drain_limit = max(120.0, 2 * seconds)
        with contextlib.suppress(TimeoutError):  # what has not arrived is reported missing
            harness.wait_until(
                lambda: pipeline.sink.count() - skip >= len(accepted), drain_limit, "", every=0.5
            )
        arrived, gave_up = delivered_at(pipeline.sink), time.perf_counter()
        cpu = meter.stop()
    finally:
        pipeline.stop()
    mirrored = mirror_rate()
    lags = [(arrived[s] - at) * 1000 for s, at in accepted.items() if s in arrived]
    # An undelivered record's lag is at least the wait until the bench gave up: counted so,
    # the percentiles are lower bounds (`lag_is_lower_bound`), never flattered by the missing.
    lags_all = lags + [(gave_up - at) * 1000 for s, at in accepted.items() if s not in arrived]
    last = max((arrived[s] for s in accepted if s in arrived), default=began)
    harness.report(
        f"fullpath_{backend}", backend=backend, offered_per_s=rate, window_s=seconds,
        workers=workers, web_workers=web_workers, offered=total, accepted=len(accepted),
        delivered=len(lags), missing=len(accepted) - len(lags),
        in_per_s=round(len(accepted) / sent_for, 1),
        out_per_s_in_window=round(in_window / sent_for, 1),
        out_per_s_overall=round(len(lags) / max(last - began, sent_for), 1),
        backlog_at_window_end=len(accepted) - in_window, mirrored=mirrored,
        drain_after_window_s=round(max(last - began - sent_for, 0), 1),
        lag_p50_ms=round(harness.percentile(lags_all, 50)),
        lag_p99_ms=round(harness.percentile(lags_all, 99)),
        lag_max_ms=round(max(lags_all, default=0)), lag_is_lower_bound=len(lags) < len(accepted),
        cpu_ms_per_record={kind: round(used * 1000 / max(len(lags), 1), 2)
                           for kind, used in cpu.items()},
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(DEFAULT_RATE), default="postgres")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=None, help="default: the target's rate")
    parser.add_argument("--workers", type=int, default=2, help="django-q2 worker processes")
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()
    rate = args.rate or DEFAULT_RATE[args.backend]
    measure(args.backend, args.seconds, rate, args.workers, args.web_workers)


if __name__ == "__main__":
    main()
