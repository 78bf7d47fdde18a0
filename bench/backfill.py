"""Backfill benchmark against the sandbox CRM (not a test).

    .venv/bin/python bench/backfill.py speed --contacts 20000 [--children] [--crm-in-process]
    .venv/bin/python bench/backfill.py parallel --contacts 50000 [--locations 2]
    .venv/bin/python bench/backfill.py limit --seconds 30
    .venv/bin/python bench/backfill.py calls --contacts 2000

`speed`: the sandbox's limit and the connection's limiter lifted; reports records/s, the
backfilling process's CPU per record, and its resident memory sampled after every page (flat =
streaming), plus tracemalloc's peak of Python allocations during the run. `parallel`: as
`speed`, for N locations (a sandbox CRM, a workspace and a connection each) backfilled at once
by N processes, as N workers of the cluster run `backfill --queue` tasks: the combined
records/s from the first start to the last finish. `limit`: the CRM's 100 requests per 10 s on
both sides; reports the calls made in the window against the bound (the share of the rate bound
used). `calls`: a task, a note and an appointment per contact (two calendars, over two years);
reports the CRM calls made per backfilled contact (target ≤ 1.1: the notes call is the floor).

Uses a fresh SQLite database in a temporary directory unless DATABASE_URL is set. For `speed`
and `parallel` each sandbox CRM serves from its own process (`manage.py run_sandbox_crm`), as a
real CRM is another machine: in this process its request handling took the interpreter (the
GIL) from the backfill it measures; `--crm-in-process` runs it in this process as before. The
other modes run it in this process (port 0).
"""

import argparse
import atexit
import json
import logging
import multiprocessing
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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

from ops.backfill import Backfill  # noqa: E402
from ops.backfill_runs import start_run  # noqa: E402
from portal.models import Workspace  # noqa: E402
from sandbox import DEFAULT_LOCATION_ID, DEFAULT_TOKEN, SandboxCRM  # noqa: E402
from sandbox.util import iso_from_ms, new_id  # noqa: E402
from sync.models import Connection, DeliveryAttempt  # noqa: E402

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CALENDARS = ("BenchCalendar0000001", "BenchCalendar0000002")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE / 2**20


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu_seconds() -> float:
    """CPU used so far by this connection's PostgreSQL backend (same machine; 0 on SQLite)."""
    if db.vendor != "postgresql":
        return 0.0
    with db.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CrmProcess:
    """A sandbox CRM seeded here, then served by its own process (run_sandbox_crm)."""

    def __init__(self, location_id: str) -> None:
        self.path = f"{WORK}/crm-{location_id}.sqlite3"
        self.location_id = location_id
        self.sandbox = SandboxCRM(self.path, location_id=location_id, rate_limit=0)
        self.core = self.sandbox.core  # seeding writes straight into its store
        self.process: subprocess.Popen | None = None
        self.base_url = "http://127.0.0.1:9"  # until start(): the connection is updated then

    def start(self) -> str:
        self.sandbox.core.close()
        argv = [sys.executable, str(ROOT / "manage.py"), "run_sandbox_crm", "--port", "0"]
        argv += ["--db", self.path, "--location-id", self.location_id, "--rate-limit", "0"]
        argv += ["--daily-limit", "0", "--verbosity", "0"]
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        atexit.register(self.stop)  # also when the bench fails
        for line in self.process.stdout:
            if found := re.search(r"Sandbox CRM on (http://\S+)", line):
                self.base_url = found.group(1)
                return self.base_url
        raise RuntimeError("the sandbox CRM process did not start")

    def seed_contacts(self, n: int) -> list[dict]:
        return self.sandbox.seed_contacts(n)

    def cpu_seconds(self) -> float:
        """CPU the serving process has used so far (0 before start())."""
        if self.process is None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def setup(
    limit: int, interval: int, *, crm_process: bool = False, location_id: str = DEFAULT_LOCATION_ID
) -> tuple[SandboxCRM, Connection]:
    """A migrated database, a sandbox CRM (started, or, as a CrmProcess, to start once
    seeded) and a connection to it."""
    logging.getLogger("sandbox_crm").setLevel(logging.WARNING)  # a line per request otherwise
    call_command("migrate", verbosity=0)
    if db.vendor == "sqlite":
        with db.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    if crm_process:
        crm = CrmProcess(location_id)
    else:
        crm = SandboxCRM(f"{WORK}/crm.sqlite3", rate_limit=limit, window_ms=interval * 1000)
        crm.start()
    workspace, _ = Workspace.objects.get_or_create(
        location_id=location_id, defaults={"name": f"Bench {location_id}"}
    )
    connection = Connection.objects.create(
        workspace=workspace,
        provider="highlevel",
        name="Bench CRM",
        slug=f"bench-{new_id()[:6].lower()}",
        base_url=crm.base_url,
        credentials={"token": DEFAULT_TOKEN},
        location_id=location_id,
        rate_limit_requests=limit or 1_000_000,
        rate_limit_interval_seconds=interval if limit else 1,
    )
    return crm, connection


def seed(crm: Any, contacts: int, children: bool, appointments: bool = False) -> None:
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


def seeded(contacts: int, children: bool, crm_process: bool, location_id: str) -> tuple:
    """setup + seed; a CrmProcess is started once seeded and the connection pointed at it."""
    crm, connection = setup(0, 1, crm_process=crm_process, location_id=location_id)
    seed(crm, contacts, children)
    if crm_process:
        Connection.objects.filter(pk=connection.pk).update(base_url=crm.start())
    return crm, connection


def speed(contacts: int, children: bool, trace: bool, crm_process: bool) -> None:
    crm, connection = seeded(contacts, children, crm_process, DEFAULT_LOCATION_ID)
    objects = ["contact", "task", "note"] if children else ["contact"]
    run, _ = start_run(connection, objects)
    samples: list[tuple[int, float]] = []
    done = [0]

    def progress(records: int, total: int | None) -> None:
        done[0] += records
        samples.append((done[0], rss_mb()))

    if trace:
        tracemalloc.start()
    load = os.getloadavg()[0]
    crm_cpu = crm.cpu_seconds() if crm_process else 0.0
    started, cpu, server = time.monotonic(), cpu_seconds(), server_cpu_seconds()
    tally = Backfill(run, progress=progress).execute()
    elapsed, cpu = time.monotonic() - started, cpu_seconds() - cpu
    server = server_cpu_seconds() - server
    crm_cpu = crm.cpu_seconds() - crm_cpu if crm_process else 0.0
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    again, _ = start_run(connection, objects, restart=True)
    started_again = time.monotonic()
    second = Backfill(again).execute()
    elapsed_again = time.monotonic() - started_again
    crm.stop()
    where = "its own process" if crm_process else "this process"
    print(f"database: {db.vendor}; sandbox CRM in {where}; load average at start {load:.1f}")
    print(f"records: {tally.total} ({tally.as_dict()})")
    print(f"elapsed {elapsed:.1f} s → {tally.total / elapsed:.0f} records/s")
    print(f"CPU of this process: {cpu:.1f} s = {cpu / tally.total * 1000:.3f} ms per record")
    print(f"CPU of its PostgreSQL backend: {server / tally.total * 1000:.3f} ms per record")
    if crm_process:  # the stand-in CRM shares these cores; a real one is another machine
        print(f"CPU of the sandbox CRM serving it: {crm_cpu / tally.total * 1000:.3f} ms/record")
    if trace:
        print(f"tracemalloc peak during the run: {peak / 2**20:.1f} MiB")
    for fraction in (0.1, 0.25, 0.5, 0.75, 1.0):
        records, mb = samples[max(0, int(len(samples) * fraction) - 1)]
        print(f"  RSS after {records:>7} records: {mb:.0f} MiB")
    print(
        f"second run (nothing changed): {second.total / elapsed_again:.0f} records/s "
        f"({second.as_dict()})"
    )


def parallel(contacts: int, locations: int) -> None:
    """N locations backfilled at once, one process each (as N workers of the cluster)."""
    ids = [f"BenchLocation{n:07d}" for n in range(locations)]
    crms, connections = zip(
        *(seeded(contacts, False, True, location_id) for location_id in ids), strict=True
    )
    db.close()  # each child opens its own connection
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    go = context.Event()
    load = os.getloadavg()[0]
    children = [
        context.Process(target=_backfill_one, args=(conn.pk, go, results)) for conn in connections
    ]
    for child in children:
        child.start()
    go.set()
    finished = [results.get(timeout=3600) for _ in children]
    for child in children:
        child.join(timeout=60)
    for crm in crms:
        crm.stop()
    records = sum(r["records"] for r in finished)
    elapsed = max(r["finished"] for r in finished) - min(r["started"] for r in finished)
    print(f"database: {db.vendor}; {locations} locations x {contacts} contacts, one process each")
    print(f"load average at start {load:.1f}")
    for r in finished:
        print(
            f"  {r['location']}: {r['records']} records in {r['elapsed']:.1f} s "
            f"({r['records'] / r['elapsed']:.0f}/s, CPU per record {r['cpu_ms']:.3f} ms + "
            f"{r['server_cpu_ms']:.3f} ms PostgreSQL, "
            f"peak RSS {r['peak_rss_mb']:.0f} MiB) {r['tally']}"
        )
    rate = records / elapsed
    print(f"combined: {records} records in {elapsed:.1f} s → {rate:.0f} records/s")
    print(
        "RESULT "
        + json.dumps(
            {
                "figure": "backfill_pair",
                "locations": locations,
                "records": records,
                "records_per_s": round(rate),
                "per_location": finished,
                "load_average_at_start": round(load, 1),
            }
        ),
        flush=True,
    )


def _backfill_one(connection_id: int, go: Any, results: Any) -> None:
    connection = Connection.objects.get(pk=connection_id)
    run, _ = start_run(connection, ["contact"])
    go.wait()
    started, cpu, server = time.time(), cpu_seconds(), server_cpu_seconds()
    tally = Backfill(run).execute()
    finished, cpu = time.time(), cpu_seconds() - cpu
    server = server_cpu_seconds() - server
    results.put(
        {
            "location": connection.location_id,
            "records": tally.total,
            "tally": tally.as_dict(),
            "started": started,
            "finished": finished,
            "elapsed": finished - started,
            "cpu_ms": cpu / max(tally.total, 1) * 1000,
            "server_cpu_ms": server / max(tally.total, 1) * 1000,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )
    db.close()


def limit(seconds: int) -> None:
    """Calls the CRM answered (not 429) in `seconds` against what its limit allows. Counted at
    the CRM: the calls' DeliveryAttempt rows are saved with the page they fetched, so up to a
    page of calls (a contact page's notes: 100 calls, 10 s at this limit) is not yet logged."""
    crm, connection = setup(100, 10)
    seed(crm, 3000, children=True)
    run, _ = start_run(connection, ["contact", "task", "note"])
    worker = threading.Thread(target=Backfill(run).execute, daemon=True)
    started = time.time()
    worker.start()
    time.sleep(seconds)
    stats = crm.stats()
    answered = stats["requests"] - stats["rate_limited"]
    logged = DeliveryAttempt.objects.filter(connection=connection, outcome="ok").count()
    bound = 100 * seconds / 10
    print(f"{seconds} s with the CRM limit of 100 per 10 s (bound: {bound:.0f} calls)")
    print(f"  successful calls: {answered} → {answered / bound:.0%} of the bound")
    print(f"  429 answers: {stats['rate_limited']}; calls logged so far: {logged}")
    print(f"  sandbox stats: {stats}")
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
    s.add_argument("--crm-in-process", action="store_true", help="the sandbox CRM in this process")
    par = sub.add_parser("parallel")
    par.add_argument("--contacts", type=int, default=50_000, help="per location")
    par.add_argument("--locations", type=int, default=2)
    lim = sub.add_parser("limit")
    lim.add_argument("--seconds", type=int, default=30)
    c = sub.add_parser("calls")
    c.add_argument("--contacts", type=int, default=2000)
    args = parser.parse_args()
    if args.mode == "speed":
        speed(args.contacts, args.children, args.tracemalloc, not args.crm_in_process)
    elif args.mode == "parallel":
        parallel(args.contacts, args.locations)
    elif args.mode == "calls":
        calls(args.contacts)
    else:
        limit(args.seconds)


if __name__ == "__main__":
    main()
