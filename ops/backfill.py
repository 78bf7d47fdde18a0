"""Backfill: page a connection's remote records into the mirror, resumably.

    run, resumed = start_run(connection, objects, since=..., business=..., propagate=...,
                             restart=...)
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

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from ops.backfill_fetch import Batch, FetchPlan, Prefetcher, phases_for
from ops.ingest import Ingestor, Tally
from ops.models import MAX_ERRORS_KEPT, UNFINISHED, BackfillRun, RunStatus
from portal.actors import Actor
from portal.bulk_insert import bulk_insert
from sync.connectors import connector_for
from sync.connectors.base import Connector
from sync.engine.leases import holding, lease_until
from sync.engine.outbox import outbound_suppressed
from sync.models import Connection, DeliveryAttempt, Link
from sync.transport.http import RemoteError

OBJECT_TYPES = ("user", "contact", "task", "note", "appointment")
CHILD_TYPES = ("task", "note", "appointment")


class BackfillError(Exception):
    """A backfill cannot start or continue (bad options, permanent remote error)."""


class OtherOptions(BackfillError):
    """The connection's unfinished run was started with other options (see --restart)."""


def parse_objects(text: str) -> list[str]:
    """ "contacts,tasks" → ["contact", "task"] in phase order; ValueError for unknown names."""
    names = [name.strip().lower().removesuffix("s") for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(OBJECT_TYPES))
    if unknown or not names:
        raise ValueError(
            f"Unknown object type(s) {', '.join(unknown) or '(none given)'}; "
            "choose from contacts, tasks, notes, appointments, users."
        )
    return [t for t in OBJECT_TYPES if t in names]


def check_listable(connection: Connection, objects: list[str]) -> None:
    """ValueError unless the connection's connector can list every requested type."""
    connector = connector_for(connection)
    can_list = connector.listable_types | connector.per_contact_types  # notes: per contact
    cannot = [t for t in objects if t not in can_list]
    if cannot:
        listed = ", ".join(f"{t}s" for t in OBJECT_TYPES if t in can_list) or "nothing"
        raise ValueError(
            f"{connection} cannot list {', '.join(f'{t}s' for t in cannot)} "
            f"(it lists: {listed}; a REST connection lists what its config has a list for)."
        )


def start_run(
    connection: Connection,
    objects: list[str],
    *,
    since: datetime | None = None,
    business: str = "",
    propagate: bool = False,
    restart: bool = False,
) -> tuple[BackfillRun, bool]:
    """The run to execute (its lease held by the caller) and whether it resumes one."""
    try:
        check_listable(connection, objects)
    except ValueError as exc:
        raise BackfillError(str(exc)) from exc
    token = secrets.token_hex(16)
    try:
        with transaction.atomic():
            current = unfinished_run(
                connection, objects, since, propagate, business=business, restart=restart
            )
            if current is not None:
                _claim(current, token)
                return current, True
            run = BackfillRun.objects.create(
                connection=connection,
                objects_requested=objects,
                since=since,
                business_id=business,
                propagate=propagate,
                phase=first_phase(objects),
                lease_token=token,
                lease_until=lease_until(),
            )
            return run, False
    except IntegrityError as exc:  # another process created the connection's run just now
        raise BackfillError(f"A backfill of {connection} is starting elsewhere.") from exc


def unfinished_run(
    connection: Connection,
    objects: list[str],
    since: datetime | None,
    propagate: bool,
    *,
    business: str = "",
    restart: bool = False,
) -> BackfillRun | None:
    """The connection's unfinished run to resume (None: start one); BackfillError when one is
    running in a live process, or was started with other options and `restart` is not given."""
    current = (
        BackfillRun.objects.select_for_update().filter(connection=connection, status__in=UNFINISHED)
    ).first()
    if current is None:
        return None
    if current.lease_until is not None and current.lease_until > timezone.now():
        raise BackfillError(
            f"Backfill #{current.pk} of this connection is running (in another process or "
            "task); it is refused while that one runs."
        )
    if restart:
        BackfillRun.objects.filter(pk=current.pk).update(
            status=RunStatus.ABANDONED, finished_at=timezone.now(), lease_token=""
        )
        return None
    if (current.objects_requested, current.since, current.business_id, current.propagate) != (
        objects,
        since,
        business,
        propagate,
    ):
        raise OtherOptions(
            f"Backfill #{current.pk} of this connection is unfinished with other options "
            f"(objects {','.join(current.objects_requested)}, since {current.since}, "
            f"business {current.business_id or '-'}, propagate {current.propagate}); "
            "resume it with those, or give --restart."
        )
    return current


def _claim(run: BackfillRun, token: str) -> None:
    """Take the run's lease, unless a process took it since it was read (then refuse)."""
    now = timezone.now()
    claimed = (
        BackfillRun.objects.filter(pk=run.pk)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .update(status=RunStatus.RUNNING, lease_token=token, lease_until=lease_until(now))
    )
    if not claimed:
        raise BackfillError(f"Backfill #{run.pk} of this connection is running elsewhere.")
    run.status, run.lease_token = RunStatus.RUNNING, token


def first_phase(objects: list[str]) -> str:
    return phases_for(objects)[0]


def dry_run(
    connection: Connection, objects: list[str], since: datetime | None = None, business: str = ""
) -> BackfillRun:
    """An unsaved run: executing it writes nothing (each page is rolled back)."""
    return BackfillRun(
        connection=connection,
        objects_requested=objects,
        since=since,
        business_id=business,
        phase=first_phase(objects),
    )


def check_business_objects(objects: list[str], business: str) -> None:
    if business and "appointment" in objects:
        raise ValueError(
            "--business narrows contacts, notes and tasks; the CRM lists appointments per "
            "location only: leave appointments out."
        )


def notes_known_until(connection: Connection) -> datetime | None:
    """When the last complete run that listed every contact's notes began: a contact the CRM
    reports unchanged since has had its notes listed then."""
    runs = BackfillRun.objects.filter(connection=connection, status=RunStatus.DONE, since=None)
    for started_at, objects in runs.order_by("-started_at").values_list(
        "started_at", "objects_requested"
    ):
        if "note" in objects:
            return started_at
    return None


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
        return holding(BackfillRun, self.run.lease_token)

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
                connection=self.connection, object_type="contact", remote_id__in=remote_ids
            )
            .exclude(remote_id="")  # the partial unique index on remote_id
            .values_list("remote_id", "object_id")
        )
        rows = Contact.objects.in_bulk(list(ids.values()))
        return {rid: rows[oid] for rid, oid in ids.items() if oid in rows}

    # --- committing a page with its checkpoint ------------------------------------------

    def _commit(self, batch: Batch) -> None:
        if self.dry_run:
            bulk_insert(DeliveryAttempt, batch.calls)  # the page is rolled back, not its calls
        try:
            tally = self._write_page_or_retry(batch)
        except Exception:
            if not self.dry_run:
                bulk_insert(DeliveryAttempt, batch.calls)  # rolled back with the page: kept
            raise
        self.tally.add(tally)
        if self.dry_run:
            self._count(tally)
            self.run.phase, self.run.cursor = batch.position
        # The remote's total counts contacts only: no ETA when their children are counted too.
        children = self.objects & set(CHILD_TYPES)
        total = None if children or batch.phase == "user" else batch.page.total
        self.progress(tally.total, total)

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
                bulk_insert(DeliveryAttempt, batch.calls)
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


def iter_summary(run: BackfillRun) -> Iterator[str]:
    yield (
        f"created {run.created}, updated {run.updated}, unchanged {run.unchanged}, "
        f"failed {run.failed} ({run.pages} page(s))"
    )
    for error in run.errors[:10]:
        yield f"  failed: {error}"
