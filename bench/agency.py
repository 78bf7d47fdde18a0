"""An agency's scale (not a test): many workspaces, each with a partner webhook connection to a
sink in this process (rate limit lifted), on PostgreSQL + Redis.

    python bench/agency.py [--workspaces 1000] [--backlog 10000] [--probe-rate 2]
                           [--seconds 900] [--workers 2] [--runs 5]

1. `--workspaces` workspaces and connections are bulk-created.
2. Workspace 0 gets a burst of `--backlog` new contacts through contacts/services.py (an import)
   while no worker runs: that many pushes wait in its outbox, queued.
3. With that backlog and 1,000 connections: server time of the admin dashboard and the outbox
   and connection changelists (median of `--runs`, test client, no network), and of one run of
   each sweeper schedule (the interval schedules whose function names a sweep).
4. The worker cluster starts; while the backlog drains (at most `--seconds`), a single contact
   is created in a random *other* workspace `--probe-rate` times a second: the latency from
   its write to its delivery at the sink, p50/p99, and the same after the backlog drained.

If pushes are scheduled fairly across connections, a probe does not wait for the backlog.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

PAGES = {
    "dashboard": "/admin/dashboard/",
    "outbox": "/admin/sync/outboundchange/",
    "outbox of the busy connection": "/admin/sync/outboundchange/?connection__id__exact={busy}",
    "connections": "/admin/sync/connection/",
}
BUSY_PATH = "/ws/0"


def create_agency(workspaces: int, sink_url: str) -> list[Any]:
    """The workspaces and their connections, bulk-created (ids in order: 0 is the busy one)."""
    from portal.models import Workspace
    from sync.models import Connection

    rows = Workspace.objects.bulk_create(
        Workspace(name=f"Agency {i:04d}", slug=f"agency-{i:04d}", location_id=f"AgencyLoc{i:06d}")
        for i in range(workspaces)
    )
    Connection.objects.bulk_create(
        harness.webhook_connection(ws, f"{sink_url}/ws/{i}", f"agency-hooks-{i:04d}")
        for i, ws in enumerate(rows)
    )
    return rows


def write_backlog(workspace: Any, actor: Any, count: int, chunk: int = 500) -> float:
    """`count` contacts created in `workspace` in chunks of one transaction; records/s."""
    from django.db import transaction

    from contacts.services import contact_create

    started = time.perf_counter()
    for first in range(0, count, chunk):
        with transaction.atomic():
            for i in range(first, min(first + chunk, count)):
                data = {"first_name": "Import", "last_name": f"{i}", "email": f"imp{i}@busy.test"}
                contact_create(workspace=workspace, actor=actor, data=data)
    return count / (time.perf_counter() - started)


def all_enqueued() -> bool:
    """Every waiting outbox row has been handed to the broker (the debounce timers fired)."""
    from sync.models import WAITING, OutboundChange

    return not OutboundChange.objects.filter(status__in=WAITING, enqueued_at__isnull=True).exists()


def time_pages(runs: int, busy_connection_id: int) -> dict[str, float]:
    """Median server time (ms) of each admin page for a superuser, after one warm-up."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    user = get_user_model().objects.create_superuser("agency", "agency@bench.test", "agency")
    client = Client(HTTP_HOST="127.0.0.1", secure=True)
    client.force_login(user)
    # Production serves static files from a collectstatic manifest, which a bench has not run.
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        return _medians(client, runs, busy_connection_id)


def _medians(client: Any, runs: int, busy_connection_id: int) -> dict[str, float]:
    medians = {}
    for name, url in PAGES.items():
        url = url.format(busy=busy_connection_id)
        times = []
        for _ in range(runs + 1):
            started = time.perf_counter()
            status = client.get(url).status_code
            times.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"{url} answered {status}")
        medians[name] = round(statistics.median(times[1:]), 1)
    return medians


def time_sweepers() -> dict[str, float]:
    """One run of each interval schedule that sweeps, in this process (ms), by its name."""
    from django.utils.module_loading import import_string
    from django_q.models import Schedule

    times = {}
    for name, func in Schedule.objects.filter(func__contains="sweep").values_list("name", "func"):
        started = time.perf_counter()
        import_string(func)()
        times[name] = round((time.perf_counter() - started) * 1000, 1)
    return times


class Probes:
    """Single contacts created in random non-busy workspaces, timed to their delivery."""

    def __init__(self, workspaces: list[Any], actor: Any, sink: harness.Sink) -> None:
        self.others, self.actor, self.sink = workspaces[1:], actor, sink
        self.started: dict[str, float] = {}  # e-mail → when its write began
        self.made_while_busy: set[str] = set()
        self.rng = random.Random(19)

    def make(self, busy: bool) -> None:
        from contacts.services import contact_create

        email = f"probe{len(self.started)}@agency.test"
        self.started[email] = time.perf_counter()
        if busy:
            self.made_while_busy.add(email)
        data = {"first_name": "Probe", "last_name": "Single", "email": email}
        contact_create(workspace=self.rng.choice(self.others), actor=self.actor, data=data)

    def latencies_ms(self) -> dict[str, float]:
        arrived = {}
        for at, path, body in self.sink.deliveries():
            email = (body.get("data") or {}).get("email")
            if path != BUSY_PATH and email in self.started and email not in arrived:
                arrived[email] = (at - self.started[email]) * 1000
        return arrived

    def summaries(self, gave_up: float) -> dict[str, dict[str, Any]]:
        """p50/p99 of the probes made while the backlog drained and after; a probe that never
        arrived counts with its wait until `gave_up` (the figure is then a lower bound)."""
        arrived = self.latencies_ms()
        phases: dict[str, tuple[list[float], list[str]]] = {
            "probes_while_backlog": ([], []), "probes_after_drain": ([], []),
        }  # fmt: skip
        for email, at in self.started.items():
            busy = email in self.made_while_busy
            waits, missing = phases["probes_while_backlog" if busy else "probes_after_drain"]
            waits.append(arrived.get(email, (gave_up - at) * 1000))
            if email not in arrived:
                missing.append(email)
        return {name: summary(waits, len(missing)) for name, (waits, missing) in phases.items()}


def drain_with_probes(
    probes: Probes, backlog: int, rate: float, seconds: float, after: float = 15
) -> float | None:
    """Probe while the backlog drains (≤ `seconds`) and `after` seconds more; the drain time."""
    started, drained_at = time.perf_counter(), None
    stop_at = started + seconds
    while time.perf_counter() < stop_at:
        if drained_at is None and probes.sink.count(BUSY_PATH) >= backlog:
            drained_at = time.perf_counter()
            stop_at = min(stop_at, drained_at + after)
        probes.make(busy=drained_at is None)
        time.sleep(1 / rate)
    return None if drained_at is None else drained_at - started


def summary(values: list[float], missing: int) -> dict[str, Any]:
    return {
        "count": len(values),
        "missing": missing,
        "lower_bound": bool(missing),
        "p50_ms": round(harness.percentile(values, 50)),
        "p99_ms": round(harness.percentile(values, 99)),
        "max_ms": round(max(values, default=0)),
    }


def measure(args: argparse.Namespace) -> None:
    sink = harness.Sink()
    env = harness.portal_env(
        harness.fresh_database("agency"), RECONCILE_REPAIR="0",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )  # fmt: skip
    harness.flush_redis()
    harness.setup_django(env)
    from portal.actors import Actor
    from sync.models import Connection

    actor = Actor.system("bench")
    started = time.perf_counter()
    workspaces = create_agency(args.workspaces, sink.url)
    created_s = time.perf_counter() - started
    backlog_per_s = write_backlog(workspaces[0], actor, args.backlog)
    harness.wait_until(all_enqueued, 300, "the backlog's pushes were not enqueued", every=1)
    busy = Connection.objects.get(workspace=workspaces[0]).pk
    pages = time_pages(args.runs, busy)
    sweepers = time_sweepers()
    worker = harness.qcluster(env, args.workers)
    probes = Probes(workspaces, actor, sink)
    try:
        drain_s = drain_with_probes(probes, args.backlog, args.probe_rate, args.seconds)
        with contextlib.suppress(TimeoutError):  # what has not arrived is reported missing
            harness.wait_until(
                lambda: len(probes.latencies_ms()) >= len(probes.started), 60, "", every=2
            )
        figures = probes.summaries(gave_up=time.perf_counter())
    finally:
        worker.stop()
        sink.stop()
    harness.report(
        "agency", workspaces=args.workspaces, connections=args.workspaces, backlog=args.backlog,
        workers=args.workers, created_in_s=round(created_s, 1),
        backlog_written_per_s=round(backlog_per_s), backlog_drain_s=drain_s and round(drain_s),
        backlog_delivered=sink.count(BUSY_PATH), **figures, page_median_ms=pages,
        sweeper_ms=sweepers,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--probe-rate", type=float, default=2)
    parser.add_argument("--seconds", type=float, default=900, help="at most, for the drain")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    measure(parser.parse_args())


if __name__ == "__main__":
    main()
