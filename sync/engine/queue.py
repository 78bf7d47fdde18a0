"""The one queue both engines use: outbox pushes and inbound events.

    enqueue(task, *args)        hand a task to django-q2 by its dotted *name* (never by importing
                                the task module: dependencies point from sync/tasks.py to here)
    wake(task)                  enqueue `task` unless a wake of it is already waiting (a flag in
                                the shared cache, so several web processes wake it once)
    wake_soon(task)             the same for hot paths (the intake): at most one shared-cache
                                look per SYNC_WAKE_INTERVAL_SECONDS in this process
    woken(task)                 the woken task started: the next wake enqueues again
    claim_fairly(due, ...)      the ids to claim next, round-robin over connections
    claimed(model, ids, token)  claimed rows in the order to work through them, each
                                connection read once per batch
    unlocked(claimable)         the rows no other claimer holds (locked for this claim)
    backoff_seconds(attempts)   when a retryable failure is tried again

Work is not handed to the broker row by row. A row (an outbox change, a received inbound event)
is durable in the database; the broker only carries wake-ups of the batch tasks, which claim
due rows fairly: every connection's first due row, then every connection's second, ... at most
`per_connection` of each in a batch's first round, so one connection's 10,000-row backlog never
sits in front of another connection's single change; room left over goes to the busy ones. The
due queries are indexed and their cost follows the due rows, never the number of connections.

Leases (short, renewed while the worker lives, reaped when it dies) are sync/engine/leases.py;
the sweepers (sync/tasks.py: sweep) are the backstop for a lost wake-up.
"""

import logging
import random
import threading
import time
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Model, QuerySet, Window
from django.db.models.functions import RowNumber
from django_q.tasks import async_task

from sync.engine.broker import shared_broker
from sync.engine.timer import Timer, shared_timer
from sync.models import Connection

logger = logging.getLogger(__name__)

WAKE_KEY = "sync:queue:wake:"


def enqueue(task: str, *args: Any, group: str = "sync", task_name: str | None = None) -> str:
    """Hand `task` (a dotted path) to django-q2 through the process's one broker; its id."""
    named = {"task_name": task_name} if task_name else {}
    return async_task(task, *args, group=group, broker=shared_broker(), **named)


def wake(task: str, *, group: str = "sync", force: bool = False) -> bool:
    """Enqueue `task` unless a wake of it is already waiting; True if this call enqueued it.

    The flag lives at most SYNC_WAKE_SECONDS: a wake the broker lost is sent again by the next
    caller after that. The woken task clears the flag as it starts (`woken`), before it claims,
    so a row committed before a suppressed wake is always seen by the running task's claim.
    `force` (the sweepers, once a minute) enqueues whatever the flag says. Never raises: the
    sweeper picks up whatever a lost wake leaves.
    """
    try:
        added = cache.add(WAKE_KEY + task, 1, timeout=settings.SYNC_WAKE_SECONDS)
        if not added and not force:
            return False
    except Exception:
        logger.warning("Shared cache unreachable; waking %s without its flag.", task)
    try:
        enqueue(task, group=group)
    except Exception:
        logger.exception("Could not wake %s; the sweeper will.", task)
        _clear(task)
        return False
    return True


class _Interval:
    """This process's wake-ups of one task: the next moment it may look at the flag, and
    whether a look at the end of the current interval is already on the timer."""

    def __init__(self) -> None:
        self.next_look = 0.0
        self.deferred = False


_intervals: dict[str, _Interval] = {}
_intervals_lock = threading.Lock()
_timer: Timer = shared_timer


def wake_soon(task: str, *, group: str = "sync") -> None:
    """`wake(task)`, at most once per SYNC_WAKE_INTERVAL_SECONDS in this process.

    A call inside the interval does not look at the shared flag; it has the look made once at
    the interval's end by the process's timer (sync/engine/timer.py), so the last row of a
    burst still wakes the workers, at most one interval later. 0 looks every time.
    """
    interval = settings.SYNC_WAKE_INTERVAL_SECONDS
    if interval <= 0:
        wake(task, group=group)
        return
    now = time.monotonic()
    with _intervals_lock:
        state = _intervals.setdefault(task, _Interval())
        if now >= state.next_look:
            state.next_look = now + interval
            look_now = True
        else:
            look_now = False
            defer = not state.deferred
            state.deferred = True
    if look_now:
        wake(task, group=group)
    elif defer:
        _timer.call_later(state.next_look - now, _deferred_wake, task, group)


def _deferred_wake(task: str, group: str) -> None:
    with _intervals_lock:
        state = _intervals[task]
        state.deferred = False
        state.next_look = time.monotonic() + settings.SYNC_WAKE_INTERVAL_SECONDS
    wake(task, group=group)


def woken(task: str) -> None:
    """The woken task is running: a row committed from now on needs a new wake."""
    _clear(task)


def _clear(task: str) -> None:
    try:
        cache.delete(WAKE_KEY + task)
    except Exception:
        logger.warning("Shared cache unreachable; the wake flag of %s expires by itself.", task)


def claim_fairly(due: QuerySet, *, limit: int, per_connection: int) -> list[int]:
    """Ids of `due` rows to claim next (at most `limit`), in the order to work through them.

    First round: each connection's oldest rows, round-robin (rank 1 of every connection before
    rank 2 of any), at most `per_connection` of one connection. Room the first round leaves goes,
    round-robin again, to the connections that had more: a connection alone fills the batch (a
    backlog costs one claim per batch, not one per `per_connection` rows), and while others
    wait none of them waits behind more than `per_connection` of another's rows. The ids come
    grouped by connection (a connection's rows in id order, so runs of them can be applied
    together), the first round before the rest.
    """
    first = _round_robin(due, limit, per_connection)
    taken = Counter(connection_id for _pk, connection_id in first)
    busy = [connection_id for connection_id, count in taken.items() if count == per_connection]
    room = limit - len(first)
    rest = []
    if busy and room > 0:
        more = due.filter(connection_id__in=busy).exclude(pk__in=[pk for pk, _c in first])
        rest = _round_robin(more, room, room)
    return _grouped(first) + _grouped(rest)


def _round_robin(due: QuerySet, limit: int, per_connection: int) -> list[tuple[int, int]]:
    """(id, connection) of up to `limit` rows, round-robin: one query, a window numbering each
    connection's rows by id."""
    ranked = due.annotate(
        turn=Window(RowNumber(), partition_by=[F("connection_id")], order_by=F("id").asc())
    )
    fair = ranked.filter(turn__lte=per_connection).order_by("turn", "id")
    return list(fair.values_list("id", "connection_id")[:limit])


def _grouped(rows: list[tuple[int, int]]) -> list[int]:
    """Ids grouped by connection, connections in the order of their first row."""
    by_connection: dict[int, list[int]] = {}
    for pk, connection_id in rows:
        by_connection.setdefault(connection_id, []).append(pk)
    return [pk for pks in by_connection.values() for pk in sorted(pks)]


def claimed(model: type[Model], ids: list[int], token: str) -> list:
    """The rows of `ids` that this claim holds (lease `token`), in the order `claim_fairly`
    gave them, each with its connection (and the connection's workspace) read once per batch
    and shared by its rows: built again for every row by select_related, they were about a
    tenth of the inbound worker's CPU.

    Read by key: `lease_token` has no index (one would cost every claim its in-place update),
    so a look-up by the token alone scanned the whole table, growing with its retention."""
    rows = list(model.objects.filter(pk__in=ids, lease_token=token))
    wanted = {row.connection_id for row in rows if row.connection_id}
    connections = Connection.objects.select_related("workspace").in_bulk(wanted)
    for row in rows:
        if row.connection_id in connections:
            row.connection = connections[row.connection_id]
    position = {pk: index for index, pk in enumerate(ids)}
    return sorted(rows, key=lambda row: position.get(row.pk, len(position)))


def unlocked(claimable: QuerySet) -> QuerySet:
    """`claimable` narrowed to the rows no other claimer holds, now locked by this transaction
    (PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED), so concurrent claimers never wait for each
    other or deadlock; SQLite, which serialises writers, as it is. Call inside `atomic()`."""
    if not transaction.get_connection().features.has_select_for_update_skip_locked:
        return claimable
    free = claimable.select_for_update(skip_locked=True).values_list("pk", flat=True)
    return claimable.filter(pk__in=list(free))


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential with jitter (SYNC_RETRY_BASE_SECONDS doubling, capped), ≥ Retry-After."""
    base = settings.SYNC_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    delay = min(base, settings.SYNC_RETRY_MAX_SECONDS) * random.uniform(0.75, 1.25)
    return max(delay, retry_after or 0.0)
