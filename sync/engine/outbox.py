"""Turning mirror changes into outbox rows, inside the write path's transaction.

`record_outbound_changes` receives `contacts.signals.mirror_changed` (connected in
SyncConfig.ready). For every target connection — same workspace, active, not deleted, direction
sending this object type, filter rules passing, and never the connection the change came from —
it writes one OutboundChange (plus one per rule action that just became true). After commit
the rows are released to the push workers once the record has been quiet for a moment
(sync/engine/debounce.py); if the broker is down, the sweeper releases them later.

    enqueue_pushes(ids)    release rows now (replays, repairs, erasure: no quiet period)
    written_together()     the rows of many writes (a bulk create) in one INSERT at its end
    changes_arrived_at(t)  the writes inside apply changes that reached the portal at `t`
"""

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contacts.models import MirrorModel
from portal.actors import Actor
from portal.batch_memo import memoized
from portal.bulk_insert import bulk_insert
from sync.engine.debounce import push_soon, release_pushes
from sync.mapping.rules import passes_filters, triggered_actions
from sync.models import Connection, Operation, OutboundChange
from sync.objects import TYPE_BY_MODEL

logger = logging.getLogger(__name__)

# --- Fan-out switch (backfill) ---------------------------------------------------------------
# A backfill brings a remote's records in; by default they must not fan out to the workspace's
# other connections (that would push years of history everywhere). The caller says so
# explicitly with `with outbound_suppressed(): ...`; the write path itself is unchanged.
_suppressed: ContextVar[bool] = ContextVar("sync_outbound_suppressed", default=False)


@contextmanager
def _set_within(variable: ContextVar, value: Any) -> Iterator[None]:
    """`variable` is `value` inside the block (this thread/task only)."""
    token = variable.set(value)
    try:
        yield
    finally:
        variable.reset(token)


def outbound_suppressed() -> AbstractContextManager[None]:
    """Mirror writes inside this block (this thread/task only) queue no outbox rows at all."""
    return _set_within(_suppressed, True)


def fan_out_suppressed() -> bool:
    """True inside `outbound_suppressed()` (automations fire no runs there either)."""
    return _suppressed.get()


# --- One INSERT for many writes --------------------------------------------------------------
# A bulk create announces each of its records; their outbox rows are collected and written
# together when the block ends, still inside the caller's transaction.
_collected: ContextVar[list[OutboundChange] | None] = ContextVar("sync_outbox_rows", default=None)


@contextmanager
def written_together() -> Iterator[None]:
    """Outbox rows of the mirror writes inside this block: one INSERT as it ends (call it
    inside the writes' transaction, so the rows commit or roll back with them)."""
    rows: list[OutboundChange] = []
    token = _collected.set(rows)
    try:
        yield
    finally:
        _collected.reset(token)
    _insert(rows)


# --- When a change reached the portal --------------------------------------------------------
# A push waits for its record to be quiet for a moment (sync/engine/debounce.py), counted from
# when the change reached the portal: for one a webhook brought, from the delivery's receipt,
# so the time a worker took to get to it is not added to the wait. Behind the inbound queue by
# more than that moment, the wait counts from the row's creation, as for a change made here:
# the record's changes still queued then have their time to join the push.
_arrived: ContextVar[datetime | None] = ContextVar("sync_change_arrived", default=None)


def changes_arrived_at(moment: datetime | None) -> AbstractContextManager[None]:
    """The mirror writes inside this block apply changes that reached the portal at `moment`."""
    return _set_within(_arrived, moment)


def _changed_at() -> datetime:
    now = timezone.now()
    arrived = _arrived.get()
    if arrived is None or (now - arrived).total_seconds() > settings.SYNC_PUSH_DEBOUNCE_SECONDS:
        return now
    return arrived


def target_connections(
    workspace_id: int, object_type: str, origin_connection_id: int | None
) -> list[Connection]:
    """The connections a change fans out to, with their rules; read once per batch of work."""
    key = ("target_connections", workspace_id, object_type, origin_connection_id)
    return memoized(key, lambda: _senders(workspace_id, object_type, origin_connection_id))


def _senders(
    workspace_id: int, object_type: str, origin_connection_id: int | None
) -> list[Connection]:
    connections = (
        Connection.objects.live()
        .filter(workspace_id=workspace_id, active=True)
        .exclude(pk=origin_connection_id)
        .defer("credentials")  # a write never depends on decrypting a connection's secrets
        .prefetch_related("rules")
    )
    return [c for c in connections if c.sends(object_type)]


def record_outbound_changes(
    sender: type[MirrorModel],
    *,
    instance: MirrorModel,
    action: str,
    changes: dict[str, list[Any]],
    actor: Actor,
    **kwargs: Any,
) -> list[OutboundChange]:
    object_type = TYPE_BY_MODEL.get(type(instance))
    if object_type is None or _suppressed.get():
        return []
    rows: list[OutboundChange] = []
    common = {
        "object_type": object_type,
        "object_id": instance.pk,
        "audit_action": action,
        "changed_fields": sorted(changes),
        "actor_label": actor.label[:200],
        "request_id": actor.request_id,
        "changed_at": _changed_at(),
    }
    for connection in target_connections(
        instance.workspace_id, object_type, actor.origin_connection_id
    ):
        if passes_filters(connection, instance):
            rows.append(OutboundChange(connection=connection, **common))
        for rule in triggered_actions(connection, instance, changes):
            action_spec = {"rule": rule.pk, "type": rule.action, "argument": rule.action_argument}
            rows.append(
                OutboundChange(
                    connection=connection, operation=Operation.ACTION, action=action_spec, **common
                )
            )
    collected = _collected.get()
    if collected is not None:
        collected.extend(rows)
    else:
        _insert(rows)
    return rows


def _insert(rows: list[OutboundChange]) -> None:
    """Write outbox rows; once committed, they are released after their quiet period."""
    if not rows:
        return
    created = bulk_insert(OutboundChange, rows)  # COPY on PostgreSQL (portal/bulk_insert.py)
    ids = [row.pk for row in created]
    changed_at = max(row.changed_at for row in created)  # the newest change counts
    transaction.on_commit(lambda: push_soon(ids, changed_at))


def enqueue_pushes(change_ids: list[int]) -> None:
    """Rows written outside the write path's fan-out, due at once: released to the workers."""
    release_pushes(change_ids)
