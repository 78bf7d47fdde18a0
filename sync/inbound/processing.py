"""Processing stored inbound events: claim fair batches with a lease, apply, record; sweep.

    process_received() -> dict         the task the intake wakes (sync.inbound.tasks): claims
                                       received events in fair batches until none is due
    claim_batch() -> list[InboundEvent] at most SYNC_BATCH_SIZE due events, round-robin over
                                       connections (sync/engine/queue.py), under one lease
    process_batch(batch) -> list[str]  apply claimed events in order; their outcomes
    process_event(event_id) -> str     claim and process one event now (tests, tools)
    sweep() -> dict                    exhausted → failed; due events waiting → wake the task
    reprocess(queryset) -> int         the admin action: start selected events over

Claiming is a conditional UPDATE (status received, no live lease, attempts left → lease,
attempts + 1), so an event runs in one worker at a time however many workers claim at once
(on PostgreSQL the candidates are locked with SKIP LOCKED first, so claimers do not queue
behind each other). A worker that dies leaves a lease that expires; a live worker's reaper
(sync/engine/leases.py) then hands the event back and wakes the task.
"""

import json
import logging
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from portal.batch_memo import batch_scope
from sync.connectors import webhook_receiver
from sync.engine import leases, queue
from sync.engine.outbox import changes_arrived_at
from sync.inbound import creates, outcomes
from sync.inbound.delivery import apply_event
from sync.inbound.events import ParsedEvent
from sync.inbound.partner_formats import format_of
from sync.inbound.routing import route
from sync.models import InboundEvent, InboundSource, InboundStatus

logger = logging.getLogger(__name__)
PROCESS_TASK = "sync.inbound.tasks.process_received"  # by name: tasks.py imports this module


def wake_workers() -> None:
    """Events were handed back: wake the processing task (one wake waiting at a time)."""
    queue.wake(PROCESS_TASK, group="inbound")


def events_received() -> None:
    """The intake stored an event: wake the processing task, at most one look at the shared
    flag per SYNC_WAKE_INTERVAL_SECONDS in this web process (sync/engine/queue.py)."""
    queue.wake_soon(PROCESS_TASK, group="inbound")


def process_received() -> dict[str, int]:
    """Process due events, a fair batch at a time, for up to SYNC_BATCH_SECONDS."""
    queue.woken(PROCESS_TASK)
    deadline = time.monotonic() + settings.SYNC_BATCH_SECONDS
    processed = 0
    while time.monotonic() < deadline:
        batch = claim_batch()
        if not batch:
            break
        if len(batch) >= settings.SYNC_BATCH_PER_CONNECTION:
            wake_workers()  # more may be waiting: another worker joins in
        processed += len(process_batch(batch))
    return {"processed": processed}


def process_batch(batch: list[InboundEvent]) -> list[str]:
    """Apply claimed events in order, keeping their lease alive meanwhile; their outcomes.

    The batch reads each connection's configuration (mappings, fan-out targets, automations)
    once (portal/batch_memo.py); runs of new records are created together
    (sync/inbound/creates.py), the rest one event at a time."""
    if not batch:
        return []
    results: list[str] = []
    with (
        leases.holding(InboundEvent, batch[0].lease_token, [event.pk for event in batch]),
        batch_scope(),
    ):
        for step in creates.steps(batch, parse_event):
            if isinstance(step, creates.Run):
                with changes_arrived_at(max(event.received_at for event, _ in step.events)):
                    done, one_by_one = creates.create_together(step)
                results += done
            else:
                one_by_one = [step]
            results += [_process(event, parsed) for event, parsed in one_by_one]
    return results


def due_events(now=None) -> QuerySet:
    """Received events a worker may claim now (index inbound_status_received)."""
    now = now or timezone.now()
    return InboundEvent.objects.filter(
        status=InboundStatus.RECEIVED,
        attempts__lt=settings.WEBHOOK_MAX_ATTEMPTS,
        connection__isnull=False,
    ).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))


def claim_batch(limit: int | None = None) -> list[InboundEvent]:
    """Claim up to `limit` due events fairly across connections, all under one lease token."""
    limit = limit or settings.SYNC_BATCH_SIZE
    now = timezone.now()
    ids = queue.claim_fairly(
        due_events(now), limit=limit, per_connection=settings.SYNC_BATCH_PER_CONNECTION
    )
    if not ids:
        return []
    return _claim(ids, now)


def _claim(ids: list[int], now) -> list[InboundEvent]:
    token = uuid.uuid4().hex
    with transaction.atomic():
        free = queue.unlocked(due_events(now).filter(pk__in=ids))
        claimed = free.update(
            lease_token=token, lease_until=leases.lease_until(now), attempts=F("attempts") + 1
        )
    if not claimed:
        return []
    return queue.claimed(InboundEvent, ids, token)


def process_event(event_id: int) -> str:
    event = claim(event_id)
    if event is None:
        return "not claimed"
    with leases.holding(InboundEvent, event.lease_token, [event.pk]):
        return _process(event)


def claim(event_id: int) -> InboundEvent | None:
    claimed = _claim([event_id], timezone.now())
    return claimed[0] if claimed else None


def _process(event: InboundEvent, parsed: ParsedEvent | None = None) -> str:
    # Not in one transaction with its outcome: applying may read the record from the CRM
    # first, and no transaction (on SQLite: the write lock) is held across a remote call.
    try:
        with changes_arrived_at(event.received_at):
            outcome = apply_event(parsed or parse_event(event), event.connection)
    except Exception as exc:
        return outcomes.failure(event, exc)
    return outcomes.record(event, outcome)


def parse_event(event: InboundEvent) -> ParsedEvent:
    """The stored delivery as one neutral change: a partner's in the partner API's shape, a
    provider endpoint's by that provider's connector (sync/connectors/receiving.py)."""
    payload = json.loads(event.body)
    if event.source == InboundSource.PARTNER:  # the partner's own format, or our API's
        return format_of(event.connection).parse(payload, event.source_timestamp)
    return webhook_receiver(event.source).parse(payload, event.source_timestamp)


# --- sweeper and reprocessing -------------------------------------------------------------


def sweep() -> dict[str, int]:
    """Periodic, the backstop for lost wake-ups: events out of attempts whose last lease ran
    out fail; while due events wait, the processing task is woken. A fixed number of indexed
    queries, whatever the number of connections."""
    now = timezone.now()
    failed = InboundEvent.objects.filter(
        status=InboundStatus.RECEIVED,
        connection__isnull=False,
        attempts__gte=settings.WEBHOOK_MAX_ATTEMPTS,
        lease_until__lt=now,
    ).update(
        status=InboundStatus.FAILED,
        error="Processing never finished: its worker died on every attempt.",
        lease_token="",
        lease_until=None,
        processed_at=now,
    )
    if failed:
        logger.error("ALERT: %s inbound event(s) failed: their worker died every time", failed)
    due = due_events(now).exists()
    if due:
        queue.wake(PROCESS_TASK, group="inbound", force=True)
    return {"failed": failed, "due": int(due)}


def reap_expired_leases() -> int:
    """Events whose lease ran out (a dead worker, or a retry's "not before" passed): handed
    back and the task woken at once (sync/engine/leases.py runs this in every live worker)."""
    now = timezone.now()
    released = InboundEvent.objects.filter(
        status=InboundStatus.RECEIVED,
        lease_until__lt=now,
        attempts__lt=settings.WEBHOOK_MAX_ATTEMPTS,
        connection__isnull=False,
    ).update(lease_token="", lease_until=None)
    if released:
        wake_workers()
    return released


leases.register_reaper(reap_expired_leases)


def reprocess(events: QuerySet) -> int:
    """Start the selected events over (unmatched ones are routed again first)."""
    ids = []
    for event in events.exclude(status=InboundStatus.RECEIVED, lease_until__gt=timezone.now()):
        if event.connection_id is None:
            event.connection = route(event.source, event.routing_key, event.event_type)
            if event.connection is None:
                continue
            event.workspace_id = event.connection.workspace_id
        InboundEvent.objects.filter(pk=event.pk).update(
            connection=event.connection,
            workspace_id=event.workspace_id,
            status=InboundStatus.RECEIVED,
            attempts=0,
            lease_token="",
            lease_until=None,
            result="",
            error="",
            processed_at=None,
        )
        ids.append(event.pk)
    if ids:
        transaction.on_commit(wake_workers)
    return len(ids)
