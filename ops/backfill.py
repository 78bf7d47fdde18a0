"""Backfill: page a connection's remote records into the mirror, resumably.

    run, resumed = start_run(connection, objects, ...)   (ops/backfill_runs.py)
    Backfill(run, progress=callback).execute(stop_at=None) -> Tally  (dry_run=True: writes nothing)

Phases (ops/backfill_fetch.py): users (one list per location), contacts page by page — each
with its contacts' notes, one list per contact, skipped for contacts the CRM reports unchanged
since the last complete run — then the location's tasks and its appointments through the CRM's
location-wide listings (their contacts are in the mirror by then; a child whose contact is not
is counted as failed). The next page is fetched while one is written (backfill_fetch.Prefetcher;
no transaction is held during HTTP calls); each page is written in one transaction together
with the run's checkpoint (phase, cursor and counts), so a run killed at any moment resumes at
the first uncommitted page and its totals stay exact. Links make re-applying a page idempotent.

With `business`, the contacts are those of one CRM business (GET /contacts/business/{id}), and
the tasks those of its contacts (the task search's businessId); appointments cannot be narrowed
that way, so a business backfill refuses them.

One backfill runs per connection at a time: the run holds a short lease that its process renews
(sync/engine/leases.py); a second start while the lease is alive is refused, and a killed run's
lease runs out within SYNC_LEASE_SECONDS so it can be resumed.

Without `propagate`, writes queue no outbox rows at all (sync.engine.outbox.outbound_suppressed);
the actor is the connection itself, so nothing would be pushed back to it in any case.
"""

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Contact
from ops.backfill_fetch import Batch, FetchPlan, Prefetcher
from ops.backfill_runs import CHILD_TYPES, BackfillError, notes_known_until
from ops.ingest import Ingestor, Tally
from ops.models import MAX_ERRORS_KEPT, BackfillRun, RunStatus
from portal.actors import Actor
from portal.bulk_insert import bulk_insert
from portal.planner_statistics import analyze, grew_past_a_step
from sync.connectors.base import Connector
from sync.engine.leases import holding
from sync.engine.outbox import outbound_suppressed
from sync.models import Connection, DeliveryAttempt, Link
from sync.objects import mirror_model
from sync.transport.http import RemoteError


class Backfill:
    def __init__(
        self,
        run: BackfillRun,
        *,
        dry_run: bool = False,
        progress: Callable[[int, int | None], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run = run
        self.dry_run = dry_run
        # The workspace and mappings loaded here: the fetch thread prepares pages with them.
        self.connection = (
            Connection.objects.select_related("workspace")
            .prefetch_related("mappings")
            .get(pk=run.connection_id)
        )
        self.ingestor = Ingestor(
            self.connection, Actor.connection(self.connection, source="backfill")
        )
        self.progress = progress or (lambda records, total: None)
        self.sleep = sleep
        self.clock = clock
        self.tally = Tally()
        self.objects = set(run.objects_requested)
        self.notes_known_until = notes_known_until(self.connection)
        self.creating = True  # whether the last contacts page was mostly new records

    @property
    def finished(self) -> bool:
        return not self.run.phase

    def execute(self, *, stop_at: float | None = None) -> Tally:
        """Page until done, or (given `stop_at`, a `clock` time) until the page written after
        it: the run stays resumable and `finished` is False."""
        try:
            with self._leased():
                self._page_all(stop_at)
        except (RemoteError, BackfillError) as exc:
            self._finish(RunStatus.FAILED, str(exc))
            raise BackfillError(str(exc)) from exc
        finally:
            self._release()
        if self.finished:
            self._finish(RunStatus.DONE)
        return self.tally

    def _page_all(self, stop_at: float | None) -> None:
        if not self.run.phase:
            return
        start = (self.run.phase, self.run.cursor)
        with Prefetcher(self.connection, self._plan, start, prepare=self._prepare) as pages:
            for batch in pages:
                self._commit(batch)
                if stop_at is not None and self.clock() >= stop_at:
                    pages.finish_after_current()

    def _plan(self, connector: Connector) -> FetchPlan:
        return FetchPlan(
            connector,
            self.run.objects_requested,
            since=self.run.since,
            business=self.run.business_id,
            notes_known_until=self.notes_known_until,
            sleep=self.sleep,
        )

    def _prepare(self, batch: Batch) -> dict[str, Any]:
        """On the fetch thread: a contacts page's new records made ready to write. Only while
        pages bring mostly new records: a run over contacts the portal has (a second run, a
        --since run) would prepare rows it never creates, at the writing thread's expense."""
        if batch.phase != "contact" or "contact" not in self.objects or not self.creating:
            return {}
        return self.ingestor.prepare("contact", batch.page.items)

    # --- the lease: one backfill per connection at a time --------------------------------

    def _leased(self) -> Any:
        if self.dry_run or not self.run.lease_token:
            return nullcontext()
        return holding(BackfillRun, self.run.lease_token, [self.run.pk])

    def _release(self) -> None:
        if not self.dry_run and self.run.pk and self.run.lease_token:
            BackfillRun.objects.filter(pk=self.run.pk, lease_token=self.run.lease_token).update(
                lease_token="", lease_until=None
            )

    # --- writing one page ----------------------------------------------------------------

    def _writer(self, batch: Batch) -> Callable[[], Tally]:
        items = batch.page.items
        if batch.phase == "user":
            return lambda: self.ingestor.apply("user", items)
        if batch.phase == "contact":
            return lambda: self._write_contacts(items, batch.notes, batch.prepared)
        pairs = [(str(item.get("contactId") or ""), item) for item in items]
        return lambda: self._write_children(batch.phase, pairs)

    def _write_contacts(
        self,
        contacts: list[dict[str, Any]],
        notes: list[tuple[str, dict[str, Any]]],
        prepared: dict[str, Any],
    ) -> Tally:
        tally = Tally()
        if "contact" in self.objects:
            written = self.ingestor.apply("contact", contacts, prepared=prepared)
            self.creating = written.created * 2 >= len(contacts)  # read by _prepare
            tally.add(written)
        if notes:
            tally.add(self._write_children("note", notes))
        return tally

    def _write_children(self, object_type: str, pairs: list[tuple[str, dict[str, Any]]]) -> Tally:
        """Tasks, notes or appointments with their contact's remote id."""
        tally = Tally()
        local = self._local_contacts(list({contact_id for contact_id, _ in pairs}))
        parents, items = {}, []
        for contact_id, child in pairs:
            if contact_id in local:
                parents[str(child.get("id"))] = local[contact_id]
                items.append(child)
            else:
                tally.fail(f"{object_type} {child.get('id')}: its contact is not in the portal")
        tally.add(self.ingestor.apply(object_type, items, parents=parents))
        return tally

    def _local_contacts(self, remote_ids: list[str]) -> dict[str, Contact]:
        ids = dict(
            Link.objects.filter(
                connection=self.connection, object_type="contact", remote_id__any_of=remote_ids
            )
            .exclude(remote_id="")  # the partial unique index on remote_id
            .values_list("remote_id", "object_id")
        )
        rows = Contact.objects.in_bulk(list(ids.values()))
        return {rid: rows[oid] for rid, oid in ids.items() if oid in rows}

    # --- committing a page with its checkpoint ------------------------------------------

    def _commit(self, batch: Batch) -> None:
        if self.dry_run:
            self._log_calls(batch)  # the page is rolled back, not its calls
        try:
            tally = self._write_page_or_retry(batch)
        except Exception:
            if not self.dry_run:
                self._log_calls(batch)  # rolled back with the page: kept
            raise
        before = self.tally.created
        self.tally.add(tally)
        if self.dry_run:
            self._count(tally)
            self.run.phase, self.run.cursor = batch.position
        elif grew_past_a_step(before, self.tally.created):
            self._analyze(batch.phase)
        # The remote's total counts contacts only: no ETA when their children are counted too.
        children = self.objects & set(CHILD_TYPES)
        total = None if children or batch.phase == "user" else batch.page.total
        self.progress(tally.total, total)

    def _analyze(self, phase: str) -> None:
        """The tables this phase fills, analysed as they grow (portal.planner_statistics):
        their per-page look-ups would otherwise read every row of the workspace."""
        types = [phase, "note"] if phase == "contact" and "note" in self.objects else [phase]
        analyze([Link, *(mirror_model(object_type) for object_type in types)])

    def _write_page_or_retry(self, batch: Batch) -> Tally:
        write = self._writer(batch)
        for attempt in (1, 2):
            try:
                return self._write_page(write, batch)
            except IntegrityError:
                # Another writer linked the same records first; the retry sees its Links.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _write_page(self, write: Callable[[], Tally], batch: Batch) -> Tally:
        """The page, its calls' log (the fetch thread's) and the checkpoint: one transaction."""
        with transaction.atomic():
            if not self.dry_run:
                self._log_calls(batch)
            if self.run.propagate and not self.dry_run:
                tally = write()
            else:
                with outbound_suppressed():
                    tally = write()
            if self.dry_run:
                transaction.set_rollback(True)
            else:
                self._save_checkpoint(tally, batch.position)
        return tally

    def _log_calls(self, batch: Batch) -> None:
        """The page's calls (DeliveryAttempt rows): a log nobody reads back, so no ids are
        drawn for it (portal.bulk_insert's `numbered`)."""
        bulk_insert(DeliveryAttempt, batch.calls, numbered=False)

    def _count(self, tally: Tally) -> None:
        tally.count_page_into(self.run, newest_first=False, kept=MAX_ERRORS_KEPT)

    def _save_checkpoint(self, tally: Tally, position: tuple[str, Any]) -> None:
        self._count(tally)
        run = self.run
        run.phase, run.cursor = position
        BackfillRun.objects.filter(pk=run.pk).update(
            phase=run.phase,
            cursor=run.cursor,
            pages=run.pages,
            created=run.created,
            updated=run.updated,
            unchanged=run.unchanged,
            failed=run.failed,
            errors=run.errors,
            updated_at=timezone.now(),
        )

    def _finish(self, status: str, error: str = "") -> None:
        if self.dry_run or self.run.pk is None:
            return
        BackfillRun.objects.filter(pk=self.run.pk).update(
            status=status, last_error=error[:2000], finished_at=timezone.now()
        )
        self.run.refresh_from_db()
