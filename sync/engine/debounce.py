"""Holding pushes back until their record is quiet, without holding a worker.

A burst of changes to one record (an import, a workflow touching several fields, a partner's
PATCHes) should reach a remote as one call carrying the latest state. So a new outbox row is
not released to the push workers at commit but SYNC_PUSH_DEBOUNCE_SECONDS after its change
reached the portal (the row's `changed_at`: sync/engine/outbox.py), by a timer thread of the
process that wrote it (`push_soon`). Releasing (`release_pushes`) marks the rows
`enqueued_at` (the push workers claim only released rows) and wakes the push task through the
queue (sync/engine/queue.py). Before a worker claims a batch it asks `quiet_periods(ids)`: if
the record changed again meanwhile, the row goes back to this process's timer (`hold_again`);
otherwise it pushes, and the push carries every waiting change of the record (coalescing).
Sleeping in tasks instead would cost a worker for every fresh change.

A timer dies with its process. A process that exits normally releases what it still holds
(a task worker that django-q2 recycles too: sync/engine/timer.py); after a crash the held
rows — never released — are released by the outbox sweeper within SYNC_SWEEP_MINUTES. Nothing
is lost, a push is only later.
"""

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from sync.engine import queue
from sync.engine.timer import Timer, shared_timer
from sync.models import WAITING, Operation, OutboundChange

logger = logging.getLogger(__name__)

# A record that never stops changing is still pushed this many quiet periods after the change.
MAX_QUIET_PERIODS = 10


def quiet_periods(change_ids: list[int]) -> dict[int, float]:
    """Seconds until each row's record is quiet, for the rows that must wait (absent: push now).

    A row that has waited MAX_QUIET_PERIODS is pushed whatever came after it (a backlog costs
    one query); otherwise it waits a quiet period from its record's newest waiting change."""
    quiet = settings.SYNC_PUSH_DEBOUNCE_SECONDS
    if quiet <= 0 or not change_ids:
        return {}
    now = timezone.now()
    rows = OutboundChange.objects.filter(
        pk__in=change_ids, status__in=WAITING, operation=Operation.SYNC
    ).values_list("pk", "connection_id", "object_type", "object_id", "changed_at")
    longest = {
        (pk, (connection_id, object_type, object_id)): left
        for pk, connection_id, object_type, object_id, changed_at in rows
        if (left := _seconds(changed_at, now) + quiet * MAX_QUIET_PERIODS) > 0
    }  # rows finished, carried by another push or rule actions: nothing to hold
    if not longest:
        return {}
    newest = _newest_waiting({record for _pk, record in longest})
    waits = {
        pk: min(_seconds(newest[record], now) + quiet, left)
        for (pk, record), left in longest.items()
    }
    return {pk: wait for pk, wait in waits.items() if wait > 0}


def _newest_waiting(records: set[tuple[int, str, int]]) -> dict[tuple[int, str, int], datetime]:
    """The newest waiting change of each record (its own row included), one query."""
    waiting = OutboundChange.objects.filter(
        status__in=WAITING,
        operation=Operation.SYNC,
        connection_id__in={record[0] for record in records},
        object_id__in={record[2] for record in records},
    )
    newest = waiting.values("connection_id", "object_type", "object_id").annotate(
        newest=Max("changed_at")
    )
    found = {(n["connection_id"], n["object_type"], n["object_id"]): n["newest"] for n in newest}
    return {record: found[record] for record in records}


def _seconds(moment: datetime, now: datetime) -> float:
    """Seconds from now to `moment` (negative: in the past)."""
    return (moment - now).total_seconds()


_timer: Timer = shared_timer


PUSH_TASK = "sync.tasks.push_due"  # by name: the engine never imports the task module


# Rows whose quiet period ends within the same tick are released together: at a steady load a
# process commits many changes per tick, and each release is an UPDATE and a wake-up.
RELEASE_TICK_SECONDS = 0.01
_clock: Callable[[], float] = time.monotonic
_due: dict[int, list[int]] = {}  # tick number → rows released at its end
_due_lock = threading.Lock()


def push_soon(change_ids: list[int], changed_at: datetime | None = None) -> None:
    """New outbox rows (after commit): released once the quiet period has passed — counted
    from `changed_at`, their change's arrival, as the claim's check counts it — at the end of
    the tick it ends in (at most RELEASE_TICK_SECONDS later)."""
    delay = settings.SYNC_PUSH_DEBOUNCE_SECONDS
    if changed_at is not None:
        delay -= _age(changed_at)
    if delay <= 0:
        release_pushes(change_ids)
        return
    now = _clock()
    tick = math.ceil((now + delay) / RELEASE_TICK_SECONDS)
    with _due_lock:
        first = tick not in _due
        _due.setdefault(tick, []).extend(change_ids)
    if first:
        _timer.call_later(tick * RELEASE_TICK_SECONDS - now, _release_tick, tick)


def _age(changed_at: datetime) -> float:
    """Seconds since the rows' change arrived (its processing, its transaction until commit)."""
    return max(_seconds(timezone.now(), changed_at), 0.0)


def _release_tick(tick: int) -> None:
    with _due_lock:
        change_ids = _due.pop(tick, [])
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
