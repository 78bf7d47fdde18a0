"""Holding pushes back until their record is quiet, without holding a worker.

A burst of changes to one record (an import, a workflow touching several fields, a partner's
PATCHes) should reach a remote as one call carrying the latest state. So a new outbox row is
not released to the push workers at commit but SYNC_PUSH_DEBOUNCE_SECONDS later, by a timer
thread of the process that wrote it (`push_soon`). Releasing (`release_pushes`) marks the rows
`enqueued_at` (the push workers claim only released rows) and wakes the push task through the
queue (sync/engine/queue.py). Before a worker claims a row it asks `quiet_in(change_id)`: if
the record changed again meanwhile, the row goes back to this process's timer (`hold_again`);
otherwise it pushes, and the push carries every waiting change of the record (coalescing).
Sleeping in tasks instead would cost a worker for every fresh change.

A timer dies with its process. A process that exits normally releases what it still holds
(atexit); after a crash the held rows — never released — are released by the outbox sweeper
within SYNC_SWEEP_MINUTES. Nothing is lost, a push is only later.
"""

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from sync.engine import queue
from sync.engine.timer import Timer, shared_timer
from sync.models import WAITING, Operation, OutboundChange

logger = logging.getLogger(__name__)

# A record that never stops changing is still pushed this many quiet periods after the change.
MAX_QUIET_PERIODS = 10


def quiet_in(change_id: int) -> float:
    """Seconds until this row's record is quiet (0.0: push now)."""
    quiet = settings.SYNC_PUSH_DEBOUNCE_SECONDS
    if quiet <= 0:
        return 0.0
    row = (
        OutboundChange.objects.filter(pk=change_id, status__in=WAITING, operation=Operation.SYNC)
        .values("connection_id", "object_type", "object_id", "created_at")
        .first()
    )
    if row is None:
        return 0.0  # finished, carried by another push, or a rule action: nothing to hold
    created_at = row.pop("created_at")
    now = timezone.now()
    longest = _seconds(created_at, now) + quiet * MAX_QUIET_PERIODS
    if longest <= 0:
        return 0.0  # it has waited long enough, whatever came after it (a backlog: one query)
    newest = _newest_waiting(row) or created_at
    return max(min(_seconds(newest, now) + quiet, longest), 0.0)


def _newest_waiting(record: dict[str, Any]) -> datetime | None:
    waiting = OutboundChange.objects.filter(**record, status__in=WAITING, operation=Operation.SYNC)
    return waiting.aggregate(newest=Max("created_at"))["newest"]


def _seconds(moment: datetime, now: datetime) -> float:
    """Seconds from now to `moment` (negative: in the past)."""
    return (moment - now).total_seconds()


_timer: Timer = shared_timer


PUSH_TASK = "sync.tasks.push_due"  # by name: the engine never imports the task module


def push_soon(change_ids: list[int]) -> None:
    """New outbox rows (after commit): released once the quiet period has passed."""
    delay = settings.SYNC_PUSH_DEBOUNCE_SECONDS
    if delay > 0:
        _timer.call_later(delay, release_pushes, change_ids)
    else:
        release_pushes(change_ids)


def release_pushes(change_ids: list[int]) -> None:
    """Hand rows to the push workers now. Losing this is harmless: the sweeper releases them."""
    if not change_ids:
        return
    try:
        OutboundChange.objects.filter(pk__in=change_ids, status__in=WAITING).update(
            enqueued_at=timezone.now()
        )
    except Exception:
        logger.exception("Could not release pushes %s; the sweeper will.", change_ids[:10])
        return
    queue.wake(PUSH_TASK, group="sync-push")


def hold_again(change_id: int, delay: float) -> None:
    """The record is still changing: release this row again in `delay` seconds."""
    OutboundChange.objects.filter(pk=change_id).update(enqueued_at=None)  # lost timer: sweeper
    _timer.call_later(delay, release_pushes, [change_id])
