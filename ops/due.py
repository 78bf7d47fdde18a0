"""Per-connection periodic work (the poll, reconcile): find the due connections, claim each once.

    claimed = claim_due(POLL, now)       # connection ids this caller now owns a run of

Each connection has an interval and a due time per kind of work (sync.models.Connection:
poll_interval_minutes / poll_due_at, reconcile_interval_hours / reconcile_due_at). One schedule
every minute asks for the due ones through a partial index that holds only the enabled
connections (active, live, not a dry run, interval above 0), ordered by due time: the cost is
the due work, not the number of connections. Each is claimed by one conditional UPDATE that
advances its due time by its interval, so of several schedulers (worker clusters on several
machines) exactly one wins a connection's run; the others' UPDATE matches nothing.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from sync.models import Connection
from sync.models.connections import POLL_ENABLED, RECONCILE_ENABLED

CLAIM_BATCH = 500  # due connections claimed per scheduler run; the rest in the next minute


@dataclass(frozen=True)
class DueWork:
    name: str
    due_field: str
    interval_field: str
    unit: timedelta
    enabled: Q

    def next_due(self, interval: int, now: datetime) -> datetime:
        return now + interval * self.unit


POLL = DueWork("poll", "poll_due_at", "poll_interval_minutes", timedelta(minutes=1), POLL_ENABLED)
RECONCILE = DueWork(
    "reconcile",
    "reconcile_due_at",
    "reconcile_interval_hours",
    timedelta(hours=1),
    RECONCILE_ENABLED,
)


def due_connections(work: DueWork, now: datetime, limit: int = CLAIM_BATCH) -> list[tuple]:
    """(id, due time, interval) of the due connections, the longest waiting first."""
    return list(due_query(work, now)[:limit])


def due_query(work: DueWork, now: datetime) -> QuerySet:
    """The due connections' (id, due time, interval), read through the partial index of
    enabled connections by due time (conn_poll_due, conn_reconcile_due)."""
    return (
        Connection.objects.filter(work.enabled, **{f"{work.due_field}__lte": now})
        .order_by(work.due_field)
        .values_list("pk", work.due_field, work.interval_field)
    )


def claim_due(work: DueWork, now: datetime | None = None) -> list[int]:
    """Claim every due connection this caller wins (one UPDATE each, compare-and-set on the
    due time it read); returns their ids."""
    now = now or timezone.now()
    claimed = []
    for pk, due_at, interval in due_connections(work, now):
        won = Connection.objects.filter(
            work.enabled, pk=pk, **{work.due_field: due_at, work.interval_field: interval}
        ).update(**{work.due_field: work.next_due(interval, now)})
        if won:
            claimed.append(pk)
    return claimed


def set_due(work: DueWork, connection_ids: Collection[int], when: datetime) -> None:
    """Move these connections' next run (sooner: a sweep to finish; later: nothing to do)."""
    Connection.objects.filter(pk__in=connection_ids).update(**{work.due_field: when})
