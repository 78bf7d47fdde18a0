"""The periodic poll: what changed at a remote since the last poll, through the one inbound path.

    Poller(connection, clock=time.monotonic).run() -> {object_type: Tally | error message}

The fallback for lost webhooks (the CRM's are often late or lost, and some changes fire none).
For every type in the connector's `incremental_types`, in phase order, a sweep pages
`fetch_page(type, {"updatedSince": since, ...})` oldest change first and applies each page as
backfill does (ops.ingest.Ingestor: one bulk write a page; the same policy, echo suppression,
newest-wins and audit as a webhook). A record the mirror already holds as listed is a no-op:
no write, no outbox row, no audit entry. Unlike backfill, what a poll brings in fans out to the
other connections, as the webhook it stands in for would.

The checkpoint (ops.models.PollCheckpoint) is saved in the page's transaction: a crash mid-page
re-reads that page, nothing is lost or applied twice. A finished sweep moves `since` to the
newest change it read (never past the run's own start: the remote's clock may run ahead), less
SYNC_POLL_OVERLAP_SECONDS, so a change indexed late at the boundary is still read. The first
poll of a type looks back SYNC_POLL_LOOKBACK_HOURS (older history is backfill's).

A run is bounded (the interval, and half the cluster's task timeout): a sweep that needs longer
goes on in the next run, which is then due at once. A type's run holds a lease on its
checkpoint, so two runs (several clusters, a backlog) never poll one type at once. A failure is
recorded on its checkpoint and logged; the other types still run, and so do other connections
(each is its own task). Rate limits are the connector's HTTP client's.
"""

import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from ops.backfill_runs import OBJECT_TYPES
from ops.ingest import Ingestor, Tally
from ops.models import MAX_ERRORS_KEPT, PollCheckpoint
from portal.actors import Actor
from sync.connectors import connector_for
from sync.connectors.base import Connector
from sync.inbound.policy import clamped
from sync.models import Connection, Link

logger = logging.getLogger(__name__)

CHILD_TYPES = ("task", "note", "appointment")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def poll_types(connector: Connector) -> list[str]:
    """The connector's incremental types that its connection lets in, parents first (a type
    whose direction is *out* or *off* would only be refused: it is not read at all)."""
    wanted = set(connector.incremental_types)
    return [t for t in OBJECT_TYPES if t in wanted and connector.connection.receives(t)]


def run_budget_seconds(connection: Connection) -> float:
    """How long one run may page: within its interval and well within the task timeout."""
    timeout = settings.Q_CLUSTER.get("timeout", 120)
    return max(1.0, min(connection.poll_interval_minutes * 60, timeout / 2))


class Busy(Exception):
    """Another run holds this type's checkpoint."""


class Poller:
    def __init__(
        self,
        connection: Connection,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = timezone.now,
    ) -> None:
        self.connection = Connection.objects.prefetch_related("mappings").get(pk=connection.pk)
        self.connector = connector_for(self.connection)
        self.ingestor = Ingestor(self.connection, Actor.connection(self.connection, source="poll"))
        self.clock = clock
        self.now = now
        self.stop_at = clock() + run_budget_seconds(self.connection)
        self.unfinished = False  # a sweep goes on in the next run

    def run(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for object_type in poll_types(self.connector):
            results[object_type] = self._run_type(object_type)
        return results

    # --- one object type ----------------------------------------------------------------

    def _run_type(self, object_type: str) -> Any:
        checkpoint = self._checkpoint(object_type)
        try:
            token = self._lease(checkpoint)
        except Busy:
            return "busy: another run polls it"
        started = self.now()
        try:
            tally = self._sweep(checkpoint, started)
        except Exception as exc:  # recorded and logged; the other types still run
            message = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"[:2000]
            logger.warning(
                "Poll of %ss from connection %s failed: %s",
                object_type,
                self.connection.pk,
                message,
            )
            PollCheckpoint.objects.filter(pk=checkpoint.pk).update(
                last_run_at=started, last_error_at=self.now(), last_error=message
            )
            return message
        finally:
            PollCheckpoint.objects.filter(pk=checkpoint.pk, lease_token=token).update(
                lease_token="", lease_until=None
            )
        PollCheckpoint.objects.filter(pk=checkpoint.pk).update(
            last_run_at=started, last_success_at=self.now(), last_error=""
        )
        return tally

    def _checkpoint(self, object_type: str) -> PollCheckpoint:
        since = self.now() - timedelta(hours=settings.SYNC_POLL_LOOKBACK_HOURS)
        checkpoint, _created = PollCheckpoint.objects.get_or_create(
            connection=self.connection, object_type=object_type, defaults={"since": since}
        )
        return checkpoint

    def _lease(self, checkpoint: PollCheckpoint) -> str:
        """Hold the checkpoint for the longest a task may live (a killed run's lease lapses)."""
        now = self.now()
        token = secrets.token_hex(16)
        until = now + timedelta(seconds=settings.Q_CLUSTER.get("timeout", 120) + 10)
        held = (
            PollCheckpoint.objects.filter(pk=checkpoint.pk)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
            .update(lease_token=token, lease_until=until)
        )
        if not held:
            raise Busy
        return token

    def _sweep(self, checkpoint: PollCheckpoint, started: datetime) -> Tally:
        tally = Tally()
        checkpoint.refresh_from_db()  # what the last committed page left
        cursor = checkpoint.cursor or {"updatedSince": iso(checkpoint.since)}
        while True:
            page = self.connector.fetch_page(checkpoint.object_type, cursor)
            self._commit(checkpoint, page.items, page.next_cursor, started, tally)
            if page.next_cursor is None:
                return tally
            cursor = page.next_cursor
            if self.clock() >= self.stop_at:
                self.unfinished = True
                return tally

    # --- one page, with its checkpoint --------------------------------------------------

    def _commit(
        self,
        checkpoint: PollCheckpoint,
        items: list[dict[str, Any]],
        next_cursor: Any,
        started: datetime,
        tally: Tally,
    ) -> None:
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    page_tally = self._write(checkpoint.object_type, items)
                    self._advance(checkpoint, items, next_cursor, started, page_tally)
                break
            except IntegrityError:
                # Another writer (a webhook) linked the same record first; the retry sees it.
                checkpoint.refresh_from_db()
                if attempt == 2:
                    raise
        tally.add(page_tally)

    def _write(self, object_type: str, items: list[dict[str, Any]]) -> Tally:
        if object_type not in CHILD_TYPES:
            return self.ingestor.apply(object_type, items)
        tally = Tally()
        parents = local_contacts(self.connection, [str(i.get("contactId") or "") for i in items])
        kept, by_id = [], {}
        for item in items:
            contact = parents.get(str(item.get("contactId") or ""))
            if contact is None:
                tally.fail(f"{object_type} {item.get('id')}: its contact is not in the portal")
                continue
            by_id[str(item.get("id"))] = contact
            kept.append(item)
        tally.add(self.ingestor.apply(object_type, kept, parents=by_id))
        return tally

    def _advance(
        self,
        checkpoint: PollCheckpoint,
        items: list[dict[str, Any]],
        next_cursor: Any,
        started: datetime,
        tally: Tally,
    ) -> None:
        """The checkpoint after this page, saved in its transaction."""
        times = [self.connector.remote_updated_at(checkpoint.object_type, item) for item in items]
        newest = max((clamped(t) for t in times if t is not None), default=None)
        if newest is not None and (checkpoint.seen_until is None or newest > checkpoint.seen_until):
            checkpoint.seen_until = newest
        checkpoint.cursor = next_cursor
        if next_cursor is None and checkpoint.seen_until is not None:
            overlap = timedelta(seconds=settings.SYNC_POLL_OVERLAP_SECONDS)
            reached = min(checkpoint.seen_until, started) - overlap
            checkpoint.since = max(checkpoint.since, reached)
        tally.count_page_into(checkpoint, newest_first=True, kept=MAX_ERRORS_KEPT)
        PollCheckpoint.objects.filter(pk=checkpoint.pk).update(
            since=checkpoint.since,
            cursor=checkpoint.cursor,
            seen_until=checkpoint.seen_until,
            pages=checkpoint.pages,
            created=checkpoint.created,
            updated=checkpoint.updated,
            unchanged=checkpoint.unchanged,
            failed=checkpoint.failed,
            errors=checkpoint.errors,
        )


def local_contacts(connection: Connection, remote_ids: list[str]) -> dict[str, Contact]:
    """Remote contact id → its mirror contact, for the linked ones."""
    ids = dict(
        Link.objects.filter(
            connection=connection, object_type="contact", remote_id__in=[r for r in remote_ids if r]
        )
        .exclude(remote_id="")  # the partial unique index on remote_id
        .values_list("remote_id", "object_id")
    )
    rows = Contact.objects.in_bulk(list(ids.values()))
    return {rid: rows[oid] for rid, oid in ids.items() if oid in rows}
