"""Recording what became of a claimed inbound event (only its lease holder may).

record(event, outcome, error=...)   its final outcome
record_together(finished)           many final outcomes in one UPDATE (a batch's creates)
failure(event, exc)                 what an exception while applying it means: failed for
                                    good, ignored, or tried again later with backoff
"""

import logging
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.utils import timezone

from portal.bulk_update import update_rows
from sync.engine import queue
from sync.inbound.delivery import CreateInFlight, Outcome
from sync.inbound.events import EventError, Unresolvable
from sync.mapping.transforms import MappingError
from sync.models import InboundEvent, InboundStatus
from sync.transport.http import RemoteError

logger = logging.getLogger(__name__)
PERMANENT_ERRORS = (EventError, ValidationError, MappingError, ObjectDoesNotExist, ValueError)


def record(event: InboundEvent, outcome: Outcome, *, error: str = "") -> str:
    """Only the lease holder records the outcome (a stale worker changes nothing)."""
    held = InboundEvent.objects.filter(
        pk=event.pk, status=InboundStatus.RECEIVED, lease_token=event.lease_token
    )
    held.update(**_outcome(outcome, error), **_released(timezone.now()))
    return _summary(outcome, error)


def record_together(finished: Sequence[tuple[InboundEvent, Outcome, str]]) -> list[str]:
    """`record` for many events of one lease, in one UPDATE (they commit together: one
    processed_at); their summaries, in order."""
    if not finished:
        return []
    update_rows(
        InboundEvent,
        [{"id": event.pk, **_outcome(outcome, error)} for event, outcome, error in finished],
        where={"status": InboundStatus.RECEIVED, "lease_token": finished[0][0].lease_token},
        same=_released(timezone.now()),
    )
    return [_summary(outcome, error) for _event, outcome, error in finished]


def _outcome(outcome: Outcome, error: str) -> dict:
    return {"status": outcome.status, "result": outcome.result[:255], "error": error[:2000]}


def _released(now) -> dict:
    """The event leaves its lease, processed."""
    return {"lease_token": "", "lease_until": None, "processed_at": now}


def _summary(outcome: Outcome, error: str) -> str:
    return f"{outcome.status}: {outcome.result or error}"


def failure(event: InboundEvent, exc: Exception) -> str:
    """Record what `exc`, raised while applying `event`, means for it."""
    if isinstance(exc, RemoteError):
        return _remote_failure(event, exc)
    if isinstance(exc, Unresolvable):
        return record(event, Outcome(InboundStatus.IGNORED, str(exc)))
    if isinstance(exc, CreateInFlight):
        return retry_later(event, str(exc), None)
    if isinstance(exc, PERMANENT_ERRORS):
        return record(event, Outcome(InboundStatus.FAILED, ""), error=describe(exc))
    logger.error("Processing inbound event %s crashed", event.pk, exc_info=exc)
    return retry_later(event, describe(exc), None)


def _remote_failure(event: InboundEvent, exc: RemoteError) -> str:
    if exc.permanent:
        message = f"Fetching from the CRM failed: {exc.message}"
        return record(event, Outcome(InboundStatus.FAILED, ""), error=message)
    return retry_later(event, exc.message, exc.retry_after)


def retry_later(event: InboundEvent, message: str, retry_after: float | None) -> str:
    if event.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        return record(event, Outcome(InboundStatus.FAILED, ""), error=message)
    delay = queue.backoff_seconds(event.attempts, retry_after)
    # The lease doubles as "not before": a reaper hands the event back once it has passed. The
    # token goes, so the batch's renewals (one token for the batch) leave the time alone.
    InboundEvent.objects.filter(pk=event.pk, lease_token=event.lease_token).update(
        lease_token="", lease_until=timezone.now() + timedelta(seconds=delay), error=message[:2000]
    )
    return f"retry in {delay:.0f} s: {message}"


def describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return f"Invalid record: {detail}"
    return f"{type(exc).__name__}: {exc}"
