"""Sync figures with the real processes: gunicorn, a django-q2 cluster, two sandbox CRMs.

    python bench/flow.py e2e        [--seconds 30] [--rate 10]
    python bench/flow.py ratelimit  [--changes 5000] [--seconds 90]
    python bench/flow.py coalescing [--contacts 1000] [--updates 10]

The workspace's CRM is sandbox A (its webhooks go to gunicorn's /webhooks/highlevel/); a second
connection, sandbox B, is the remote the figures measure (a CRM change never goes back to the
CRM it came from, so B receives what A sends). Not a test; every loop is bounded.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness


class Flow:
    """A migrated database, sandbox CRMs A (source) and B (target), gunicorn and a worker."""

    def __init__(self, name: str, *, b_limit: int = 0, web: bool = True, **env: str) -> None:
        self.crm_a = harness.sandbox_crm(f"{name}-a", rate_limit=0)
        self.crm_b = harness.sandbox_crm(
            f"{name}-b", rate_limit=b_limit, location_id="SbxTargetLocation0001"
        )
        # The daily reconcile runs once as the cluster starts; repairing, it would pull fields
        # the CRM set itself (a contact's `source`) mid-figure and count as pushes. Report only.
        self.env = harness.portal_env(
            harness.fresh_database(name),
            HIGHLEVEL_WEBHOOK_PUBLIC_KEYS=self.crm_a.public_key_pem,
            **{"RECONCILE_REPAIR": "0", **env},
        )
        harness.flush_redis()
        harness.setup_django(self.env)
        from portal.actors import Actor
        from portal.models import Workspace

        self.actor = Actor.system("bench")
        self.workspace = Workspace.objects.create(
            name=name, location_id=self.crm_a.config.location_id
        )
        self.conn_a = harness.crm_connection(
            self.workspace, self.crm_a, "crm-a", primary=True,
            rate_limit_requests=1_000_000, rate_limit_interval_seconds=1,
        )  # fmt: skip
        limit = {"rate_limit_requests": b_limit, "rate_limit_interval_seconds": 10}
        self.conn_b = harness.crm_connection(
            self.workspace, self.crm_b, "crm-b",
            **(limit if b_limit else {"rate_limit_requests": 1_000_000,
                                      "rate_limit_interval_seconds": 1}),
        )  # fmt: skip
        self.processes: list[harness.Process] = []
        self.web_bases: list[str] = []
        if web:
            self.start_web()
            self.crm_a.configure(webhook_url=self.webhook_urls()[0])
        self.worker: harness.Process | None = None

    def start_web(self) -> None:
        """One more gunicorn (2 workers) on its own port."""
        web_proc, base = harness.gunicorn(self.env, workers=2)
        self.processes.append(web_proc)
        self.web_bases.append(base)

    def webhook_urls(self) -> list[str]:
        return [f"{base}/webhooks/highlevel/" for base in self.web_bases]

    def start_worker(self, workers: int = 2) -> harness.Process:
        """One more worker cluster (`self.worker` is the first)."""
        cluster = harness.qcluster(self.env, workers)
        self.worker = self.worker or cluster
        self.processes.append(cluster)
        return cluster

    def stop(self) -> None:
        for proc in self.processes:
            proc.stop()
        self.crm_a.stop()
        self.crm_b.stop()

    def outbox_settled(self) -> bool:
        from django.db import DatabaseError, connection

        from sync.models import WAITING, ChangeStatus, InboundEvent, InboundStatus, OutboundChange

        busy = [*WAITING, ChangeStatus.IN_FLIGHT]
        try:
            return (
                not OutboundChange.objects.filter(status__in=busy).exists()
                and not InboundEvent.objects.filter(status=InboundStatus.RECEIVED).exists()
            )
        except DatabaseError:  # the database restarted under us (chaos): ask again later
            connection.close()
            return False

    def wait_settled(self, timeout: float) -> None:
        harness.wait_until(
            lambda: self.crm_a.wait_webhooks(0.1) and self.outbox_settled(), timeout,
            "the outbox did not drain in time", every=0.5,
        )  # fmt: skip

    def create_contacts(self, n: int, prefix: str) -> list[Any]:
        from contacts.services import contact_create

        def data(i: int) -> dict[str, str]:
            return {"first_name": f"{prefix}{i}", "email": f"{prefix.lower()}{i}@bench.test"}

        return [
            contact_create(workspace=self.workspace, actor=self.actor, data=data(i))
            for i in range(n)
        ]


def e2e(seconds: float, rate: float, contacts: int = 50) -> None:
    """A change made in CRM A → its webhook → the portal → written in CRM B, at `rate`/s."""
    flow = Flow("e2e")
    try:
        flow.start_worker()
        a_ids = [
            flow.crm_a.create_contact(firstName=f"E2e{i}", email=f"e2e{i}@bench.test")["id"]
            for i in range(contacts)
        ]
        harness.wait_until(lambda: len(flow.crm_b.list("contact")) >= contacts, 120,
                           "the initial contacts did not reach CRM B")  # fmt: skip
        flow.wait_settled(60)
        b_by_email = {c["email"]: c["id"] for c in flow.crm_b.list("contact")}
        b_ids = [b_by_email[f"e2e{i}@bench.test"] for i in range(contacts)]
        latencies, pending, lock = [], {}, threading.Lock()
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set() or pending:
                with lock:
                    due = list(pending.items())
                # one read of CRM B per tick, whatever the backlog (the watcher must not
                # compete with the portal for the CPU)
                now_in_b = {c["id"]: c.get("lastName") for c in flow.crm_b.list("contact")}
                for seq, (b_id, started) in due:
                    if now_in_b.get(b_id) == f"Seq{seq}":
                        latencies.append((time.perf_counter() - started) * 1000)
                        with lock:
                            pending.pop(seq)
                time.sleep(0.01)
                if stop.is_set() and time.perf_counter() > stop_at[0] + 30:
                    return  # bounded: what has not arrived 30 s after the last change is lost

        stop_at = [0.0]
        watcher = threading.Thread(target=watch)
        watcher.start()
        begin, total = time.perf_counter(), int(seconds * rate)
        for seq in range(total):
            time.sleep(max(begin + seq / rate - time.perf_counter(), 0))
            i = seq % contacts
            with lock:
                pending[seq] = (b_ids[i], time.perf_counter())
            flow.crm_a.update_contact(a_ids[i], lastName=f"Seq{seq}")
        stop_at[0] = time.perf_counter()
        stop.set()
        watcher.join()
        harness.report(
            "e2e", rate=rate, changes=total, arrived=len(latencies), missing=len(pending),
            p50_ms=round(harness.percentile(latencies, 50), 1),
            p99_ms=round(harness.percentile(latencies, 99), 1),
        )  # fmt: skip
    finally:
        flow.stop()


def ratelimit(changes: int, seconds: float, warmup: float = 15, workers: int = 4) -> None:
    """`changes` contacts to push to a remote limited to 100 per 10 s; steady-state use."""
    flow = Flow("ratelimit", b_limit=100, web=False, SYNC_RATE_LIMIT_WAIT_SECONDS="15")
    try:
        flow.create_contacts(changes, "Limit")
        flow.start_worker(workers)
        time.sleep(warmup)
        before, started = flow.crm_b.stats(), time.monotonic()
        time.sleep(seconds)
        after, elapsed = flow.crm_b.stats(), time.monotonic() - started
        accepted = (after["requests"] - after["rate_limited"]) - (
            before["requests"] - before["rate_limited"]
        )
        per_second = accepted / elapsed
        harness.report(
            "ratelimit", changes=changes, window_s=round(elapsed), limit_per_s=10,
            calls_per_s=round(per_second, 2), use=round(per_second / 10, 3),
            responses_429=after["rate_limited"],
            contacts_in_b=after["objects"].get("contact", 0),
        )  # fmt: skip
    finally:
        flow.stop()


def coalescing(contacts: int, updates: int) -> None:
    """`updates` quick changes to each of `contacts` contacts, workers running: remote calls."""
    flow = Flow("coalescing", web=False)
    from contacts.services import contact_update

    try:
        flow.start_worker()
        rows = flow.create_contacts(contacts, "Co")
        flow.wait_settled(300)
        before = flow.crm_b.stats()["requests"]
        started = time.monotonic()
        for contact in rows:
            for n in range(updates):
                contact_update(contact, actor=flow.actor, data={"last_name": f"Update{n}"})
        changed = time.monotonic() - started
        flow.wait_settled(600)
        calls = flow.crm_b.stats()["requests"] - before
        final = {c["email"]: c.get("lastName") for c in flow.crm_b.list("contact")}
        stale = sum(1 for c in rows if final.get(c.email) != f"Update{updates - 1}")
        harness.report(
            "coalescing", contacts=contacts, updates_each=updates, remote_calls=calls,
            calls_per_contact=round(calls / contacts, 3), stale_in_remote=stale,
            updates_per_s=round(contacts * updates / changed),
        )  # fmt: skip
    finally:
        flow.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="figure", required=True)
    p = sub.add_parser("e2e")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--rate", type=float, default=10)
    p = sub.add_parser("ratelimit")
    p.add_argument("--changes", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=90)
    p = sub.add_parser("coalescing")
    p.add_argument("--contacts", type=int, default=1000)
    p.add_argument("--updates", type=int, default=10)
    args = parser.parse_args()
    if args.figure == "e2e":
        e2e(args.seconds, args.rate)
    elif args.figure == "ratelimit":
        ratelimit(args.changes, args.seconds)
    else:
        coalescing(args.contacts, args.updates)


if __name__ == "__main__":
    main()
