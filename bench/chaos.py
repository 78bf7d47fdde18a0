"""Fault injection (not a test): changes flow both ways between the portal and the sandbox CRM
while the worker is killed with `kill -9`, the CRM answers 500s, 429s and timeouts at random,
and PostgreSQL is restarted once. Then mirror and CRM are compared: lost, duplicated and
diverged records must all be 0, else the exit status is 1.

    python bench/chaos.py [--changes 2000] [--kills 10] [--seconds 100] [--no-pg-restart]
                          [--multi]

`--multi`: the production shape — 2 web processes (gunicorn, 2 workers each; the CRM's webhooks
alternate between them, as behind a load balancer) and 3 worker clusters (`qcluster`), the
kills going round them; the figure adds the drain time (last change made → outbox and inbound
events settled). Results: bench/chaos-results.json (bench/chaos-multi-results.json).

Half the changes are made in the CRM (creates, then updates: their webhooks come in), half in
the portal through contacts/services.py (they are pushed out). The two halves touch different
contacts, so every record has one expected final state. Every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

FAULTS = {"error_rate": 0.1, "throttle_rate": 0.1, "timeout_rate": 0.05, "timeout_ms": 3000}
CHAOS_ENV = {
    "SYNC_READ_TIMEOUT_SECONDS": "2",  # the CRM's injected timeouts hold requests 3 s
    "SYNC_RETRY_BASE_SECONDS": "1",
    "SYNC_RETRY_MAX_SECONDS": "8",
    "SYNC_LEASE_SECONDS": "20",  # a killed worker's rows come back after this
    "SYNC_MAX_ATTEMPTS": "40",
    "WEBHOOK_MAX_ATTEMPTS": "40",
    # The scheduled reconcile reports only: with repair on, it deleted a mirror contact whose
    # create was still in flight under the injected faults (see BENCHMARKS.md). The run ends
    # with an explicit `reconcile --repair` once the sync has settled and the faults are off.
    "RECONCILE_REPAIR": "0",
}


DRAIN_TARGET_S = 90


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


def restart_postgresql() -> None:
    listing = ["pg_lsclusters", "-h"]
    found = subprocess.run(listing, capture_output=True, text=True, check=True)  # noqa: S603
    version = found.stdout.split()[0]
    subprocess.run(["pg_ctlcluster", version, "main", "restart"], check=True)  # noqa: S603,S607


class Changes:
    """The changes made on each side and the state each record should end in."""

    def __init__(self, crm: Any, workspace: Any, actor: Any, per_side: int) -> None:
        self.crm, self.workspace, self.actor = crm, workspace, actor
        self.creates = per_side // 2
        self.expected: dict[str, str] = {}  # e-mail → last name it must end with
        self.made = {"crm": 0, "portal": 0, "portal_retries": 0}

    def crm_side(self, seconds: float) -> None:
        ids = []
        for i in range(self.creates):
            email = f"crm{i}@chaos.test"
            ids.append(self.crm.create_contact(firstName="Crm", lastName="v0", email=email)["id"])
            self.expected[email] = "v0"
            self._count("crm", seconds)
        for i, contact_id in enumerate(ids):
            self.crm.update_contact(contact_id, lastName="v1")
            self.expected[f"crm{i}@chaos.test"] = "v1"
            self._count("crm", seconds)

    def portal_side(self, seconds: float) -> None:
        from contacts.services import contact_create, contact_update

        rows = []
        for i in range(self.creates):
            email = f"portal{i}@chaos.test"
            data = {"first_name": "Portal", "last_name": "v0", "email": email}
            rows.append(self._retry(lambda d=data: contact_create(
                workspace=self.workspace, actor=self.actor, data=d)))  # fmt: skip
            self.expected[email] = "v0"
            self._count("portal", seconds)
        for i, contact in enumerate(rows):
            self._retry(lambda c=contact: contact_update(
                c, actor=self.actor, data={"last_name": "v1"}))  # fmt: skip
            self.expected[f"portal{i}@chaos.test"] = "v1"
            self._count("portal", seconds)

    def _retry(self, write: Any) -> Any:
        """A user whose save failed (the database restarting) saves again."""
        from django.db import InterfaceError, OperationalError, close_old_connections, connection

        for _ in range(120):
            try:
                return write()
            except (OperationalError, InterfaceError):
                self.made["portal_retries"] += 1
                connection.close()
                close_old_connections()
                time.sleep(0.5)
        raise RuntimeError("the database did not come back within a minute")

    def _count(self, side: str, seconds: float) -> None:
        self.made[side] += 1
        time.sleep(seconds / (2 * self.creates))  # spread each side over `seconds`


def compare(crm: Any, workspace: Any, expected: dict[str, str]) -> dict[str, int]:
    from django.db import close_old_connections

    from contacts.models import Contact

    close_old_connections()
    remote: dict[str, list[dict]] = {}
    for record in crm.list("contact"):
        remote.setdefault((record.get("email") or "").lower(), []).append(record)
    mirror: dict[str, list[Any]] = {}
    for contact in Contact.objects.filter(workspace=workspace, deleted_at__isnull=True):
        mirror.setdefault((contact.email or "").lower(), []).append(contact)
    lost = [e for e in expected if e not in remote or e not in mirror]
    duplicated = [e for e in expected if len(remote.get(e, [])) > 1 or len(mirror.get(e, [])) > 1]
    diverged = [
        e
        for e, last in expected.items()
        if e in remote and e in mirror
        and {r.get("lastName") for r in remote[e]} | {m.last_name for m in mirror[e]} != {last}
    ]  # fmt: skip
    unexpected = (set(remote) | set(mirror)) - set(expected)
    for name, emails in (("lost", lost), ("duplicated", duplicated), ("diverged", diverged)):
        if emails:
            log(f"{name}: {sorted(emails)[:10]}")
    return {
        "lost": len(lost),
        "duplicated": len(duplicated),
        "diverged": len(diverged),
        "unexpected": len(unexpected),
    }


def alternate_webhooks(crm: Any, urls: list[str], done: threading.Event) -> None:
    """Point the CRM's webhooks at each web process in turn (a delivery's URL is fixed when
    the CRM queues it), until `done`."""
    turn = 0
    while not done.wait(0.2):
        turn += 1
        crm.configure(webhook_url=urls[turn % len(urls)])


def settle(flow: Any, timeout: float) -> bool:
    try:
        flow.wait_settled(timeout)
    except TimeoutError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=100)
    parser.add_argument("--no-pg-restart", action="store_true")
    parser.add_argument("--multi", action="store_true", help="2 web processes, 3 clusters")
    args = parser.parse_args()
    from bench.flow import Flow

    flow = Flow("chaos", **CHAOS_ENV)
    from django.core.management import call_command
    from django.db import connection

    writing = threading.Event()  # set once the run is over: the webhook alternation stops
    try:
        crm = flow.crm_a
        flow.conn_b.soft_delete(by="chaos: one CRM, both ways")
        crm.configure(seed=7, **FAULTS)
        clusters = [flow.start_worker() for _ in range(3 if args.multi else 1)]
        if args.multi:
            flow.start_web()
        alternating = threading.Thread(
            target=alternate_webhooks, args=(crm, flow.webhook_urls(), writing), daemon=True
        )
        alternating.start()
        changes = Changes(crm, flow.workspace, flow.actor, args.changes // 2)
        sides = [
            threading.Thread(target=changes.crm_side, args=(args.seconds,)),
            threading.Thread(target=changes.portal_side, args=(args.seconds,)),
        ]
        for side in sides:
            side.start()
        pg_at = args.kills // 2
        for kill in range(args.kills):
            time.sleep(args.seconds / (args.kills + 1))
            victim = clusters[kill % len(clusters)]
            victim.kill9()
            log(f"kill -9 worker cluster {kill % len(clusters) + 1} of {len(clusters)} "
                f"({kill + 1}/{args.kills}); made so far: {changes.made}")  # fmt: skip
            time.sleep(1)
            if kill == pg_at and not args.no_pg_restart:
                restart_postgresql()
                connection.close()  # this thread's connection died with the server
                log("PostgreSQL restarted")
            victim.start()
        for side in sides:
            side.join()
        last_write = time.monotonic()
        log(f"all changes made: {changes.made}; faults off, waiting for the sync to settle")
        crm.configure(error_rate=0, throttle_rate=0, timeout_rate=0)
        # --multi: long enough to see a queued task lost with a killed cluster come back
        settled = settle(flow, 600 if args.multi else 300)
        drain_s = round(time.monotonic() - last_write, 1) if settled else None
        stats = crm.stats()
        dropped = stats.get("webhooks_failed", 0)
        before_reconcile = compare(crm, flow.workspace, changes.expected) if dropped else None
        if dropped:
            # The CRM does not resend a webhook answered 5xx (the portal's database was
            # restarting): the daily reconcile is what brings those changes in.
            log(f"{dropped} webhook(s) dropped by the CRM; running reconcile --repair")
            call_command("reconcile", flow.conn_a.slug, "--repair", "--objects", "contacts")
            settled = settle(flow, 300) and settled
        result = compare(crm, flow.workspace, changes.expected)
    finally:
        writing.set()
        flow.stop()
    figures = {
        "changes": sum(v for k, v in changes.made.items() if k != "portal_retries"),
        "kills": args.kills,
        "web_processes": len(flow.web_bases),
        "worker_clusters": len(clusters),
        "drained_s_after_last_write": drain_s,
        "pg_restarts": 0 if args.no_pg_restart else 1,
        "settled": settled,
        "crm_stats": {k: v for k, v in stats.items() if k != "objects"},
        "webhooks_dropped_by_crm": dropped,
        "before_reconcile": before_reconcile,
        **result,
    }
    name = "chaos_multi" if args.multi else "chaos"
    harness.report(name, **figures)
    out = harness.ROOT / "bench" / f"{name.replace('_', '-')}-results.json"
    out.write_text(json.dumps(figures, indent=2))
    ok = settled and not (result["lost"] or result["duplicated"] or result["diverged"])
    if args.multi:  # the production shape must also catch up quickly (issue 19)
        ok = ok and drain_s is not None and drain_s <= DRAIN_TARGET_S
    print(
        f"lost {result['lost']}  duplicated {result['duplicated']}  "
        f"diverged {result['diverged']}  → {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
