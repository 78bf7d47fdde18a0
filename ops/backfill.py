"""Backfill: page a connection's remote records into the mirror, resumably.

    run = start_run(connection, objects, since=..., business=..., propagate=..., restart=...)
    Backfill(run, progress=callback).execute() -> Tally      (dry_run=True: writes nothing)

With `business`, the contacts are those of one CRM business (GET /contacts/business/{id}).

Phases: users (one list per location), then contacts page by page — with each contact page its
contacts' tasks, notes and appointments. Every page is fetched first (no transaction is held
during HTTP calls), then written in one transaction together with the run's checkpoint (cursor
and counts), so a run killed at any moment resumes at the first uncommitted page and its totals
stay exact. Links make re-applying a page idempotent anyway.

Without `propagate`, writes queue no outbox rows at all (sync.outbox.outbound_suppressed); the
actor is the connection itself, so nothing would be pushed back to it in any case.
"""

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Contact
from ops.ingest import Ingestor, Tally, remote_updated_at
from ops.models import MAX_ERRORS_KEPT, UNFINISHED, BackfillRun, RunStatus
from portal.actors import Actor
from sync.connectors import connector_for
from sync.connectors.base import Page
from sync.http import RemoteError
from sync.models import Connection, Link
from sync.outbox import outbound_suppressed

OBJECT_TYPES = ("user", "contact", "task", "note", "appointment")
CHILD_TYPES = ("task", "note", "appointment")
CALL_ATTEMPTS = 6
MAX_RETRY_WAIT = 60.0


class BackfillError(Exception):
    """A backfill cannot start or continue (bad options, permanent remote error)."""


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


def start_run(
    connection: Connection,
    objects: list[str],
    *,
    since: datetime | None = None,
    business: str = "",
    propagate: bool = False,
    restart: bool = False,
) -> tuple[BackfillRun, bool]:
    """The run to execute and whether it resumes an unfinished one."""
    with transaction.atomic():
        unfinished = BackfillRun.objects.select_for_update().filter(
            connection=connection, status__in=UNFINISHED
        )
        if restart:
            unfinished.update(status=RunStatus.ABANDONED, finished_at=timezone.now())
        current = unfinished.first() if not restart else None
        if current is not None:
            same = (
                current.objects_requested,
                current.since,
                current.business_id,
                current.propagate,
            ) == (objects, since, business, propagate)
            if not same:
                raise BackfillError(
                    f"Backfill #{current.pk} of this connection is unfinished with other options "
                    f"(objects {','.join(current.objects_requested)}, since {current.since}, "
                    f"business {current.business_id or '-'}, propagate {current.propagate}); "
                    "resume it with those, or give --restart."
                )
            BackfillRun.objects.filter(pk=current.pk).update(status=RunStatus.RUNNING)
            current.status = RunStatus.RUNNING
            return current, True
        run = BackfillRun.objects.create(
            connection=connection,
            objects_requested=objects,
            since=since,
            business_id=business,
            propagate=propagate,
            phase=first_phase(objects),
        )
        return run, False


def first_phase(objects: list[str]) -> str:
    return "user" if "user" in objects else "contact"


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


class Backfill:
    def __init__(
        self,
        run: BackfillRun,
        *,
        dry_run: bool = False,
        progress: Callable[[int, int | None], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.run = run
        self.dry_run = dry_run
        self.connection = Connection.objects.prefetch_related("mappings").get(pk=run.connection_id)
        self.connector = connector_for(self.connection)
        self.ingestor = Ingestor(
            self.connection, Actor.connection(self.connection, source="backfill")
        )
        self.progress = progress or (lambda records, total: None)
        self.sleep = sleep
        self.tally = Tally()
        self.objects = set(run.objects_requested)

    def execute(self) -> Tally:
        try:
            while self.run.phase:
                self._phase_step()
        except (RemoteError, BackfillError) as exc:
            self._finish(RunStatus.FAILED, str(exc))
            raise BackfillError(str(exc)) from exc
        self._finish(RunStatus.DONE)
        return self.tally

    # --- phases -------------------------------------------------------------------------

    def _phase_step(self) -> None:
        phase, cursor = self.run.phase, self.run.cursor
        if phase == "user":
            page = self._fetch("user", cursor)
            self._commit(page, lambda: self.ingestor.apply("user", page.items))
            return
        page = self._fetch("contact", self._contact_cursor(cursor))
        children = self._fetch_children(page.items)
        self._commit(page, lambda: self._write_contacts(page.items, children))

    def _contact_cursor(self, cursor: Any) -> Any:
        if self.run.business_id:
            return {"businessId": self.run.business_id, **(cursor or {})}
        if self.run.since is None:
            return cursor
        return {"updatedSince": self.run.since.isoformat(), **(cursor or {})}

    def _fetch_children(self, contacts: list[dict[str, Any]]) -> dict[str, list[tuple]]:
        """object type → [(contact remote id, item)] for the page, filtered by `since`.

        One list call per contact and type (the CRM has no location-wide list for them).
        """
        found: dict[str, list[tuple]] = {t: [] for t in CHILD_TYPES if t in self.objects}
        for item in contacts:
            for object_type, pairs in found.items():
                children = self._fetch(object_type, {"contactId": item["id"]}).items
                pairs.extend((item["id"], c) for c in children if self._is_recent(c))
        return found

    def _is_recent(self, item: dict[str, Any]) -> bool:
        when = remote_updated_at(item)
        return self.run.since is None or when is None or when >= self.run.since

    def _write_contacts(
        self, contacts: list[dict[str, Any]], children: dict[str, list[tuple]]
    ) -> Tally:
        tally = Tally()
        if "contact" in self.objects:
            tally.add(self.ingestor.apply("contact", contacts))
        if not any(children.values()):
            return tally
        local = self._local_contacts([item["id"] for item in contacts])
        for object_type, pairs in children.items():
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

    # --- fetching with retries ----------------------------------------------------------

    def _fetch(self, object_type: str, cursor: Any) -> Page:
        for attempt in range(1, CALL_ATTEMPTS + 1):
            try:
                return self.connector.fetch_page(object_type, cursor)
            except RemoteError as exc:
                if exc.permanent or attempt == CALL_ATTEMPTS:
                    raise
                self.sleep(min(exc.retry_after or 2.0**attempt, MAX_RETRY_WAIT))
        raise AssertionError("unreachable")

    # --- committing a page with its checkpoint ------------------------------------------

    def _commit(self, page: Page, write: Callable[[], Tally]) -> None:
        phase, position = self.run.phase, self._next_position(page)
        for attempt in (1, 2):
            try:
                tally = self._write_page(write, position)
                break
            except IntegrityError:
                # Another writer linked the same records first; the retry sees its Links.
                if attempt == 2:
                    raise
        self.tally.add(tally)
        if self.dry_run:
            self._count(tally)
            self.run.phase, self.run.cursor = position
        # The remote's total counts contacts only: no ETA when their children are counted too.
        children = self.objects & set(CHILD_TYPES)
        self.progress(tally.total, None if children or phase == "user" else page.total)

    def _next_position(self, page: Page) -> tuple[str, Any]:
        if page.next_cursor is not None:
            return self.run.phase, page.next_cursor
        if self.run.phase == "user" and self.objects - {"user"}:
            return "contact", None
        return "", None

    def _write_page(self, write: Callable[[], Tally], position: tuple[str, Any]) -> Tally:
        with transaction.atomic():
            if self.run.propagate and not self.dry_run:
                tally = write()
            else:
                with outbound_suppressed():
                    tally = write()
            if self.dry_run:
                transaction.set_rollback(True)
            else:
                self._save_checkpoint(tally, position)
        return tally

    def _count(self, tally: Tally) -> None:
        run = self.run
        run.pages += 1
        for name, value in tally.as_dict().items():
            setattr(run, name, getattr(run, name) + value)
        run.errors = (run.errors + tally.errors)[:MAX_ERRORS_KEPT]

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
