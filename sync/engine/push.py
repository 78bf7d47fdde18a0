"""The push engine: claim outbox rows fairly, coalesce, call the connector, record the outcome.

    push_due() -> dict                    the push task: claim released rows in fair batches
                                          (sync/engine/queue.py) and push them, until none is due
    process_change(change_id) -> str      claim and push one row now (push_due, drain, tests)
    sweep() -> dict                       expired leases → retry/dead; lost rows → released
    drain(timeout) -> dict                process every due row in this process (ops, tests)
    replay(queryset) -> int               failed/dead rows → pending again, released

Claiming is a conditional UPDATE (status waiting → in_flight, attempts + 1, a lease and a
token); a partial unique index allows one in-flight row per (connection, record), so two pushes
of one record to one connection never overlap. Attempts are counted at claim time, so a push
that kills its worker still reaches DEAD after SYNC_MAX_ATTEMPTS claims (via the sweeper).
"""

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from sync.connectors import connector_class, connector_for
from sync.engine import leases, queue
from sync.engine.debounce import PUSH_TASK, hold_again, quiet_in, release_pushes
from sync.mapping.mapper import MappingError, to_remote
from sync.mapping.rules import RuleError
from sync.models import (
    WAITING,
    ChangeStatus,
    DeliveryAttempt,
    Operation,
    OutboundChange,
)
from sync.objects import COURSES_IMPORT
from sync.transport.http import NotYet, RemoteError, excerpt

logger = logging.getLogger(__name__)


def push_due() -> dict[str, int]:
    """Push released, due rows, a fair batch at a time, for up to SYNC_BATCH_SECONDS.

    A batch of at least one connection's share wakes another worker first (so the cluster's
    workers share a backlog); a row whose record is still changing goes back to its quiet
    period instead of being pushed."""
    queue.woken(PUSH_TASK)
    deadline = time.monotonic() + settings.SYNC_BATCH_SECONDS
    counts = {"pushed": 0, "held": 0}
    while time.monotonic() < deadline:
        ids = queue.claim_fairly(
            ready_changes(),
            limit=settings.SYNC_BATCH_SIZE,
            per_connection=settings.SYNC_BATCH_PER_CONNECTION,
        )
        if len(ids) >= settings.SYNC_BATCH_PER_CONNECTION:  # more may be waiting
            queue.wake(PUSH_TASK, group="sync-push")
        progressed = False
        for change_id in ids:
            wait = quiet_in(change_id)
            if wait > 0:
                hold_again(change_id, wait)
                counts["held"] += 1
                progressed = True
            elif process_change(change_id) != "not claimed":
                counts["pushed"] += 1
                progressed = True
        if not progressed:  # nothing left, or only rows whose record another worker pushes
            break
    return counts


def ready_changes(now=None) -> QuerySet:
    """Rows released to the workers (past their quiet period) and due (index obx_status_due)."""
    return due_changes(now).filter(
        enqueued_at__isnull=False, attempts__lt=settings.SYNC_MAX_ATTEMPTS
    )


def process_change(change_id: int) -> str:
    change = claim(change_id)
    if change is None:
        return "not claimed"
    with leases.holding(OutboundChange, change.lease_token):
        return execute(change)


def claim(change_id: int) -> OutboundChange | None:
    now = timezone.now()
    token = uuid.uuid4().hex
    try:
        with transaction.atomic():
            claimed = OutboundChange.objects.filter(
                pk=change_id,
                status__in=WAITING,
                available_at__lte=now,
                attempts__lt=settings.SYNC_MAX_ATTEMPTS,
            ).update(
                status=ChangeStatus.IN_FLIGHT,
                attempts=F("attempts") + 1,
                lease_token=token,
                lease_until=leases.lease_until(now),
                updated_at=now,
            )
    except IntegrityError:
        return None  # this record is being pushed to this connection: run after it
    if not claimed:
        return None
    change = OutboundChange.objects.select_related("connection").get(pk=change_id)
    if change.operation == Operation.SYNC:
        _coalesce(change, now)
    return change


def _coalesce(change: OutboundChange, now) -> None:
    """Waiting rows of the same record ride along: the push sends the latest state.

    Their changed fields join this row's, so a field one of them cleared is still sent cleared
    (and stays on this row across retries)."""
    riding = _same_record(change).filter(status__in=WAITING, operation=Operation.SYNC)
    rows = list(riding.values_list("pk", "changed_fields"))
    if not rows:
        return
    OutboundChange.objects.filter(pk__in=[pk for pk, _ in rows], status__in=WAITING).update(
        status=ChangeStatus.COALESCED, coalesced_into=change, completed_at=now, updated_at=now
    )
    fields = set(change.changed_fields).union(*(set(f or []) for _, f in rows))
    change.changed_fields = sorted(fields)
    OutboundChange.objects.filter(pk=change.pk).update(changed_fields=change.changed_fields)


def _same_record(change: OutboundChange) -> QuerySet:
    return OutboundChange.objects.filter(
        connection_id=change.connection_id,
        object_type=change.object_type,
        object_id=change.object_id,
    ).exclude(pk=change.pk)


def execute(change: OutboundChange) -> str:
    connection = change.connection
    try:
        if not connection.active or connection.deleted_at:
            raise RemoteError("The connection is inactive or deleted.", permanent=True)
        # A courses import is no mirror record: its dry-run call is recorded by the HTTP helper.
        result = (
            _dry_run(change)
            if connection.dry_run and change.object_type != COURSES_IMPORT
            else connector_for(connection, change=change).push(change)
        )
    except RemoteError as exc:
        return _failed(change, exc)
    except (MappingError, RuleError, ValidationError, ObjectDoesNotExist) as exc:
        return _failed(change, RemoteError(f"{type(exc).__name__}: {exc}", permanent=True))
    except Exception as exc:
        logger.exception("Push of outbox row %s crashed", change.pk)
        return _failed(change, RemoteError(f"{type(exc).__name__}: {exc}", permanent=False))
    _finish(change, status=ChangeStatus.DONE, last_error="", completed_at=timezone.now())
    connection.record_success()
    _enqueue_next(change)
    return result


def _dry_run(change: OutboundChange) -> str:
    obj = change.mirror_object()
    payload = {} if obj.is_deleted else to_remote(obj, change.connection)
    verb = (
        "ACTION" if change.operation == Operation.ACTION else "DELETE" if obj.is_deleted else "PUSH"
    )
    DeliveryAttempt.objects.create(
        connection=change.connection,
        change=change,
        method=verb,
        path=f"{change.object_type}/{obj.public_id}",
        outcome=DeliveryAttempt.Outcome.DRY_RUN,
        request_excerpt=excerpt(change.action if change.operation == Operation.ACTION else payload),
    )
    return "dry run: nothing sent"


def _failed(change: OutboundChange, error: RemoteError) -> str:
    if not isinstance(error, NotYet):
        change.connection.record_error(error.message)
    common: dict[str, Any] = {"last_error": error.message[:2000], "last_status_code": error.status}
    if error.permanent:
        _finish(change, status=ChangeStatus.FAILED, completed_at=timezone.now(), **common)
        _enqueue_next(change)
        return f"failed: {error.message}"
    schedule = connector_class(change.connection.provider).retry_schedule
    if change.attempts >= (len(schedule) if schedule else settings.SYNC_MAX_ATTEMPTS):
        logger.error("ALERT: outbox row %s is dead after %s attempts", change.pk, change.attempts)
        _finish(change, status=ChangeStatus.DEAD, completed_at=timezone.now(), **common)
        _enqueue_next(change)
        return f"dead: {error.message}"
    delay = (
        max(schedule[change.attempts], error.retry_after or 0.0)
        if schedule
        else queue.backoff_seconds(change.attempts, error.retry_after)
    )
    available_at = timezone.now() + timedelta(seconds=delay)
    _finish(change, status=ChangeStatus.RETRYING, available_at=available_at, **common)
    return f"retry in {delay:.0f} s: {error.message}"


def _finish(change: OutboundChange, **fields: Any) -> bool:
    """Only the holder of the lease may move the row on (a stale worker changes nothing)."""
    return bool(
        OutboundChange.objects.filter(
            pk=change.pk, status=ChangeStatus.IN_FLIGHT, lease_token=change.lease_token
        ).update(
            lease_token="", lease_until=None, enqueued_at=None, updated_at=timezone.now(), **fields
        )
    )


def _enqueue_next(change: OutboundChange) -> None:
    """A row that waited for this one's lease is due now: hand it to a worker."""
    waiting = _same_record(change).filter(status__in=WAITING, available_at__lte=timezone.now())
    next_id = waiting.order_by("id").values_list("id", flat=True).first()
    if next_id:
        release_pushes([next_id])


# --- sweeper, drain, replay ---------------------------------------------------------------


def release_expired_leases() -> dict[str, int]:
    """Rows whose worker died (its lease ran out): due again, or dead after the last attempt."""
    released = _release_expired()
    return {"dead": released["dead"], "released": len(released["ids"])}


def reap_expired_leases() -> int:
    """Hand rows whose worker died straight back to the queue (sync/engine/leases.py runs this)."""
    ids = _release_expired()["ids"]
    release_pushes(ids)
    return len(ids)


def _release_expired() -> dict[str, Any]:
    now = timezone.now()
    expired = OutboundChange.objects.filter(status=ChangeStatus.IN_FLIGHT, lease_until__lt=now)
    reset = {"lease_token": "", "lease_until": None, "enqueued_at": None, "updated_at": now}
    dead = expired.filter(attempts__gte=settings.SYNC_MAX_ATTEMPTS).update(
        status=ChangeStatus.DEAD,
        completed_at=now,
        last_error="The push never finished: its worker died on every attempt.",
        **reset,
    )
    if dead:
        logger.error("ALERT: %s outbox row(s) dead: their worker died on every attempt", dead)
    # Row by row (a crash leaves few): each process learns which rows it released itself, so
    # two reapers never queue the same row.
    released = [
        pk
        for pk in expired.values_list("pk", flat=True)[:1000]
        if expired.filter(pk=pk).update(
            status=ChangeStatus.RETRYING,
            available_at=now,
            last_error="Lease expired: the worker running the push died or hung.",
            **reset,
        )
    ]
    return {"dead": dead, "ids": released}


leases.register_reaper(reap_expired_leases)


def due_changes(now=None) -> QuerySet:
    return OutboundChange.objects.filter(
        status__in=WAITING, available_at__lte=now or timezone.now()
    ).order_by("id")


def sweep() -> dict[str, int]:
    """Periodic, the backstop for lost timers and wake-ups: recover dead workers' rows, release
    due rows no timer released, and wake the push task while released rows wait.

    A fixed number of indexed queries over due rows, whatever the number of connections."""
    counts = release_expired_leases()
    now = timezone.now()
    released = due_changes(now).filter(enqueued_at__isnull=True).update(enqueued_at=now)
    if ready_changes(now).exists():
        queue.wake(PUSH_TASK, group="sync-push", force=True)
    return {**counts, "enqueued": released}


def drain(timeout: float | None = None) -> dict[str, int]:
    """Process due rows here until none is left (or `timeout` seconds have passed)."""
    deadline = time.monotonic() + timeout if timeout else None
    processed = 0
    while deadline is None or time.monotonic() < deadline:
        release_expired_leases()
        claimed_any = False
        for change_id in list(due_changes().values_list("id", flat=True)[:100]):
            if process_change(change_id) != "not claimed":
                claimed_any = True
                processed += 1
        if not claimed_any:
            break
    return {"processed": processed, "left": due_changes().count()}


def replay(changes: QuerySet) -> int:
    """Failed or dead rows (or any finished rows) start over: attempts reset, released."""
    ids = list(
        changes.exclude(status__in=[*WAITING, ChangeStatus.IN_FLIGHT]).values_list("id", flat=True)
    )
    OutboundChange.objects.filter(pk__in=ids).update(
        status=ChangeStatus.PENDING,
        attempts=0,
        available_at=timezone.now(),
        completed_at=None,
        enqueued_at=None,
        updated_at=timezone.now(),
    )
    transaction.on_commit(lambda: release_pushes(ids))
    return len(ids)
