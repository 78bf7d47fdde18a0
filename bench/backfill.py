"""Backfill benchmark against the sandbox CRM (not a test).

    .venv/bin/python bench/backfill.py speed --contacts 20000 [--children]
    .venv/bin/python bench/backfill.py limit --seconds 30
    .venv/bin/python bench/backfill.py calls --contacts 2000

`speed`: the sandbox's limit and the connection's limiter lifted; reports records/s and the
process's resident memory sampled after every page (flat = streaming), plus tracemalloc's peak
of Python allocations during the run. `limit`: the CRM's 100 requests per 10 s on both sides;
reports the calls made in the window against the bound (the share of the rate bound used).
`calls`: a task, a note and an appointment per contact (two calendars, over two years);
reports the CRM calls made per backfilled contact (target ≤ 1.1: the notes call is the floor).

Uses a fresh SQLite database in a temporary directory unless DATABASE_URL is set; the sandbox
runs in this process (port 0), so its request handling shares this interpreter.
"""

import argparse
import atexit
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = tempfile.mkdtemp(prefix="bench-backfill-")
atexit.register(shutil.rmtree, WORK, ignore_errors=True)
os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK}/portal.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # fixed test-only secrets
os.environ.setdefault("DEBUG", "0")  # DEBUG keeps a log of every query
os.environ.setdefault("ALLOWED_HOSTS", "localhost")
os.environ.setdefault("SSRF_ALLOWED_HOSTS", "127.0.0.1")  # the in-process sandbox CRM

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection as db  # noqa: E402

from ops.backfill import Backfill, start_run  # noqa: E402
from portal.models import Workspace  # noqa: E402
from sandbox import DEFAULT_LOCATION_ID, DEFAULT_TOKEN, SandboxCRM  # noqa: E402
from sandbox.util import iso_from_ms, new_id  # noqa: E402
from sync.models import Connection, DeliveryAttempt  # noqa: E402

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CALENDARS = ("BenchCalendar0000001", "BenchCalendar0000002")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE / 2**20


def setup(limit: int, interval: int) -> tuple[SandboxCRM, Connection]:
    logging.getLogger("sandbox_crm").setLevel(logging.WARNING)  # a line per request otherwise
    call_command("migrate", verbosity=0)
    if db.vendor == "sqlite":
        with db.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    crm = SandboxCRM(f"{WORK}/crm.sqlite3", rate_limit=limit, window_ms=interval * 1000)
    crm.start()
    workspace, _ = Workspace.objects.get_or_create(
        location_id=DEFAULT_LOCATION_ID, defaults={"name": "Bench"}
    )
    connection = Connection.objects.create(
        workspace=workspace,
        provider="highlevel",
        name="Bench CRM",
        slug=f"bench-{new_id()[:6].lower()}",
        base_url=crm.base_url,
        credentials={"token": DEFAULT_TOKEN},
        location_id=DEFAULT_LOCATION_ID,
        rate_limit_requests=limit or 1_000_000,
        rate_limit_interval_seconds=interval if limit else 1,
    )
    return crm, connection


def seed(crm: SandboxCRM, contacts: int, children: bool, appointments: bool = False) -> None:
    for start in range(0, contacts, 10_000):
        rows = crm.seed_contacts(min(10_000, contacts - start))
        if appointments:
            seed_appointments(crm, rows)
        if children:
            now = iso_from_ms(crm.core.clock.now_ms())
            for kind, fields in (("task", {"title": "Call", "completed": False}), ("note", {})):
                records = [
                    {"id": new_id(), "contactId": c["id"], "locationId": c["locationId"]}
                    | {"dateAdded": now, "dateUpdated": now, "body": "Met at the fair"}
                    | fields
                    for c in rows
                ]
                for record in records:
                    crm.core.store.put(kind, record, parent_id=record["contactId"])


def seed_appointments(crm: SandboxCRM, rows: list[dict]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    records = []
    for n, contact in enumerate(rows):
        start = now + timedelta(days=n % 730 - 365, hours=n % 9)
        end = start + timedelta(minutes=30)
        records.append(
            {"id": new_id(), "contactId": contact["id"], "locationId": contact["locationId"]}
            | {"calendarId": CALENDARS[n % 2], "title": "Intro", "appointmentStatus": "confirmed"}
            | {"startTime": start.isoformat(), "endTime": end.isoformat()}
            | {"dateAdded": now.isoformat(), "dateUpdated": now.isoformat()}
        )
    for record in records:
        crm.core.store.put("appointment", record, parent_id=record["contactId"])


def calls(contacts: int) -> None:
    crm, connection = setup(0, 1)
    seed(crm, contacts, children=True, appointments=True)
    run, _ = start_run(connection, ["contact", "task", "note", "appointment"])
    started = time.monotonic()
    tally = Backfill(run).execute()
    elapsed = time.monotonic() - started
    paths = DeliveryAttempt.objects.filter(connection=connection).values_list("path", flat=True)
    made = paths.count()
    by_path: dict[str, int] = {}
    for path in paths:
        key = "/contacts/{id}/notes" if path.endswith("/notes") else path
        by_path[key] = by_path.get(key, 0) + 1
    crm.stop()
    print(f"database: {db.vendor}; records: {tally.total} ({tally.as_dict()})")
    print(f"contacts {contacts}, CRM calls {made}: {made / contacts:.3f} CRM calls per contact")
    for path, count in sorted(by_path.items(), key=lambda kv: -kv[1]):
        print(f"  {count:>7}  {path}")
    print(f"elapsed {elapsed:.1f} s → {tally.total / elapsed:.0f} records/s")


def speed(contacts: int, children: bool, trace: bool) -> None:
    crm, connection = setup(0, 1)
    seed(crm, contacts, children)
    objects = ["contact", "task", "note"] if children else ["contact"]
    run, _ = start_run(connection, objects)
    samples: list[tuple[int, float]] = []
    done = [0]

    def progress(records: int, total: int | None) -> None:
        done[0] += records
        samples.append((done[0], rss_mb()))

    if trace:
        tracemalloc.start()
    started = time.monotonic()
    tally = Backfill(run, progress=progress).execute()
    elapsed = time.monotonic() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    again, _ = start_run(connection, objects, restart=True)
    started_again = time.monotonic()
    second = Backfill(again).execute()
    elapsed_again = time.monotonic() - started_again
    crm.stop()
    print(f"database: {db.vendor}; records: {tally.total} ({tally.as_dict()})")
    print(f"elapsed {elapsed:.1f} s → {tally.total / elapsed:.0f} records/s")
    if trace:
        print(f"tracemalloc peak during the run: {peak / 2**20:.1f} MiB")
    for fraction in (0.1, 0.25, 0.5, 0.75, 1.0):
        records, mb = samples[max(0, int(len(samples) * fraction) - 1)]
        print(f"  RSS after {records:>7} records: {mb:.0f} MiB")
    print(
        f"second run (nothing changed): {second.total / elapsed_again:.0f} records/s "
        f"({second.as_dict()})"
    )


def limit(seconds: int) -> None:
    crm, connection = setup(100, 10)
    seed(crm, 3000, children=True)
    run, _ = start_run(connection, ["contact", "task", "note"])
    worker = threading.Thread(target=Backfill(run).execute, daemon=True)
    started = time.time()
    worker.start()
    time.sleep(seconds)
    stats = crm.stats()
    calls = DeliveryAttempt.objects.filter(connection=connection)
    ok = calls.filter(outcome="ok").count()
    bound = 100 * seconds / 10
    print(f"{seconds} s with the CRM limit of 100 per 10 s (bound: {bound:.0f} calls)")
    print(f"  successful calls: {ok} → {ok / bound:.0%} of the bound")
    print(f"  429 answers: {calls.filter(status_code=429).count()}; sandbox stats: {stats}")
    print(f"  (elapsed {time.time() - started:.1f} s)")
    shutil.rmtree(WORK, ignore_errors=True)
    os._exit(0)  # the backfill thread is still waiting on the limiter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--contacts", type=int, default=20_000)
    s.add_argument("--children", action="store_true", help="a task and a note per contact")
    s.add_argument("--tracemalloc", action="store_true", help="trace allocations (slower)")
    lim = sub.add_parser("limit")
    lim.add_argument("--seconds", type=int, default=30)
    c = sub.add_parser("calls")
    c.add_argument("--contacts", type=int, default=2000)
    args = parser.parse_args()
    if args.mode == "speed":
        speed(args.contacts, args.children, args.tracemalloc)
    elif args.mode == "calls":
        calls(args.contacts)
    else:
        limit(args.seconds)


if __name__ == "__main__":
    main()
