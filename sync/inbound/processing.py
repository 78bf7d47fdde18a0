"""Processing stored inbound events: claim with a lease, apply, record the outcome; sweep.

    process_event(event_id) -> str     the django-q2 task body (sync.inbound.tasks)
    sweep() -> dict                    lost or expired events → enqueued again; exhausted → failed
    reprocess(queryset) -> int         the admin action: start selected events over

Claiming is a conditional UPDATE (status received, no live lease, attempts left → lease,
attempts + 1), so an event runs in one worker at a time however often it is enqueued. A worker
that dies leaves a lease that expires; the sweeper then enqueues the event again.
"""

import json
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from sync.connectors.highlevel import events as highlevel_events
from sync.engine import leases
from sync.engine.push import backoff_seconds
from sync.inbound.delivery import CreateInFlight, Outcome, apply_event
from sync.inbound.events import EventError, ParsedEvent, Unresolvable
from sync.inbound.partner_formats import format_of
from sync.mapping.mapper import MappingError
from sync.models import InboundEvent, InboundSource, InboundStatus
from sync.transport.http import RemoteError

logger = logging.getLogger(__name__)
PERMANENT_ERRORS = (EventError, ValidationError, MappingError, ObjectDoesNotExist, ValueError)


def process_event(event_id: int) -> str:
    event = claim(event_id)
    if event is None:
        return "not claimed"
    with leases.holding(InboundEvent, event.lease_token):
        return _process(event)


def _process(event: InboundEvent) -> str:
    try:
        outcome = apply_event(parse_event(event), event.connection)
    except RemoteError as exc:
        return _remote_failure(event, exc)
    except Unresolvable as exc:
        return _finish(event, Outcome(InboundStatus.IGNORED, str(exc)))
    except CreateInFlight as exc:
        return _retry_later(event, str(exc), None)
    except PERMANENT_ERRORS as exc:
        return _finish(event, Outcome(InboundStatus.FAILED, ""), error=_describe(exc))
    except Exception as exc:
        logger.exception("Processing inbound event %s crashed", event.pk)
        return _retry_later(event, _describe(exc), None)
    return _finish(event, outcome)


def parse_event(event: InboundEvent) -> ParsedEvent:
    payload = json.loads(event.body)
    if event.source == InboundSource.HIGHLEVEL:
        return highlevel_events.parse(payload, event.source_timestamp)
    return format_of(event.connection).parse(payload, event.source_timestamp)


def claim(event_id: int) -> InboundEvent | None:
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        InboundEvent.objects.filter(
            pk=event_id,
            status=InboundStatus.RECEIVED,
            attempts__lt=settings.WEBHOOK_MAX_ATTEMPTS,
            connection__isnull=False,
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_token=token,
            lease_until=leases.lease_until(now),
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    return InboundEvent.objects.select_related("connection__workspace").get(pk=event_id)


def _finish(event: InboundEvent, outcome: Outcome, *, error: str = "") -> str:
    """Only the lease holder records the outcome (a stale worker changes nothing)."""
    InboundEvent.objects.filter(
        pk=event.pk, status=InboundStatus.RECEIVED, lease_token=event.lease_token
    ).update(
        status=outcome.status,
        result=outcome.result[:255],
        error=error[:2000],
        lease_token="",
        lease_until=None,
        processed_at=timezone.now(),
    )
    return f"{outcome.status}: {outcome.result or error}"


def _remote_failure(event: InboundEvent, exc: RemoteError) -> str:
    if exc.permanent:
        message = f"Fetching from the CRM failed: {exc.message}"
        return _finish(event, Outcome(InboundStatus.FAILED, ""), error=message)
    return _retry_later(event, exc.message, exc.retry_after)


def _retry_later(event: InboundEvent, message: str, retry_after: float | None) -> str:
    if event.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        return _finish(event, Outcome(InboundStatus.FAILED, ""), error=message)
    delay = backoff_seconds(event.attempts, retry_after)
    # The lease doubles as "not before": the sweeper enqueues the event once it has passed.
    InboundEvent.objects.filter(pk=event.pk, lease_token=event.lease_token).update(
        lease_until=timezone.now() + timedelta(seconds=delay), error=message[:2000]
    )
    return f"retry in {delay:.0f} s: {message}"


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return f"Invalid record: {detail}"
    return f"{type(exc).__name__}: {exc}"


# --- sweeper and reprocessing -------------------------------------------------------------


def sweep() -> dict[str, int]:
    """Periodic: events whose task was lost or whose lease expired are enqueued again."""
    from sync.inbound.tasks import enqueue_events

    now = timezone.now()
    waiting = InboundEvent.objects.filter(status=InboundStatus.RECEIVED, connection__isnull=False)
    failed = waiting.filter(
        attempts__gte=settings.WEBHOOK_MAX_ATTEMPTS, lease_until__lt=now
    ).update(
        status=InboundStatus.FAILED,
        error="Processing never finished: its worker died on every attempt.",
        lease_token="",
        lease_until=None,
        processed_at=now,
    )
    if failed:
        logger.error("ALERT: %s inbound event(s) failed: their worker died every time", failed)
    stale = now - timedelta(seconds=leases.QUEUED_TASK_LOST_SECONDS)
    lost = Q(lease_until__isnull=True) & (Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
    due = waiting.filter(attempts__lt=settings.WEBHOOK_MAX_ATTEMPTS).filter(
        lost | Q(lease_until__lt=now)
    )
    ids = list(due.order_by("id").values_list("id", flat=True)[:1000])
    enqueue_events(ids)
    return {"failed": failed, "enqueued": len(ids)}


def reap_expired_leases() -> int:
    """Events whose lease ran out (a dead worker, or a retry's "not before" passed): queued
    again at once (sync/engine/leases.py runs this). Row by row, so two reapers never queue one
    twice."""
    from sync.inbound.tasks import enqueue_events

    now = timezone.now()
    expired = InboundEvent.objects.filter(
        status=InboundStatus.RECEIVED,
        lease_until__lt=now,
        attempts__lt=settings.WEBHOOK_MAX_ATTEMPTS,
        connection__isnull=False,
    )
    ids = [
        pk
        for pk in expired.values_list("pk", flat=True)[:1000]
        if expired.filter(pk=pk).update(lease_token="", lease_until=None, enqueued_at=now)
    ]
    enqueue_events(ids, marked=True)
    return len(ids)


leases.register_reaper(reap_expired_leases)


def reprocess(events: QuerySet) -> int:
    """Start the selected events over (unmatched ones are routed again first)."""
    from sync.inbound.intake import route
    from sync.inbound.tasks import enqueue_events

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
    transaction.on_commit(lambda: enqueue_events(ids))
    return len(ids)
