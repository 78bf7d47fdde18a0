"""Outbox rows of one record: at most one is pushed to a connection at a time (the partial
unique index); the others wait for it.

    coalesce(claimed, now)     waiting rows of a claimed row's record ride along with it
    release_next(finished)     the oldest waiting row of each finished row's record is due now
"""

from collections import defaultdict

from django.utils import timezone

from sync.engine.debounce import release_pushes
from sync.models import WAITING, ChangeStatus, Operation, OutboundChange


def coalesce(changes: list[OutboundChange], now) -> None:
    """Waiting rows of the same record ride along: the push sends the latest state.

    Their changed fields join the claimed row's, so a field one of them cleared is still sent
    cleared (and stays on that row across retries). One query finds the riders of the batch."""
    by_record = {_record_key(change): change for change in changes}
    if not by_record:
        return
    riding = OutboundChange.objects.filter(
        status__in=WAITING,
        operation=Operation.SYNC,
        connection_id__in={change.connection_id for change in changes},
        object_id__in={change.object_id for change in changes},
    ).values_list("pk", "connection_id", "object_type", "object_id", "changed_fields")
    riders: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
    for pk, connection_id, object_type, object_id, fields in riding:
        change = by_record.get((connection_id, object_type, object_id))
        if change is not None:
            riders[change.pk].append((pk, fields or []))
    for change in changes:
        rows = riders.get(change.pk)
        if not rows:
            continue
        OutboundChange.objects.filter(pk__in=[pk for pk, _ in rows], status__in=WAITING).update(
            status=ChangeStatus.COALESCED, coalesced_into=change, completed_at=now, updated_at=now
        )
        change.changed_fields = sorted(set(change.changed_fields).union(*(f for _, f in rows)))
        OutboundChange.objects.filter(pk=change.pk).update(changed_fields=change.changed_fields)


def _record_key(change: OutboundChange) -> tuple[int, str, int]:
    return (change.connection_id, change.object_type, change.object_id)


def release_next(finished: list[OutboundChange]) -> None:
    """Rows that waited for one of these records' lease are due now: hand them to a worker
    (the oldest of each record; one query for the batch)."""
    if not finished:
        return
    keys = {_record_key(change) for change in finished}
    waiting = OutboundChange.objects.filter(
        status__in=WAITING,
        available_at__lte=timezone.now(),
        connection_id__in={key[0] for key in keys},
        object_id__in={key[2] for key in keys},
    ).order_by("id")
    first: dict[tuple[int, str, int], int] = {}
    for pk, *key in waiting.values_list("pk", "connection_id", "object_type", "object_id"):
        if tuple(key) in keys:
            first.setdefault(tuple(key), pk)
    if first:
        release_pushes(list(first.values()))
