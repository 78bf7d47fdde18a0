"""Applying one remote change to the mirror: the one function every inbound path calls.

    apply_remote_change(connection, change, actor=..., found=..., parent=...) -> Outcome

The caller has mapped the remote's record into mirror field values (`RemoteChange.values`:
only what the remote carried). This finds the record by its Link (unless the caller found it),
asks the policy (sync/inbound/policy.py) whether the connection may write it and which fields
win, writes through contacts.services as the connection (so the change never goes back to it),
and keeps the Link in step: its remote id, the remote's time and its snapshot of the fields.
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from contacts.models import Contact, MirrorModel
from contacts.services import locked_for_update, mirror_create, mirror_delete, mirror_update
from portal.actors import Actor
from sync.inbound import policy
from sync.inbound.snapshot import known_fields, new_link, with_fields
from sync.inbound.values import mirror_values
from sync.mapping.mapper import payload_hash, to_remote
from sync.models import Connection, InboundStatus, Link
from sync.objects import mirror_model

UPSERT, DELETE = "upsert", "delete"
DELETED_UNKNOWN = "deleted before it was known here"
# The parent contact of a task, note or appointment, resolved only once a create is permitted.
ParentLookup = Callable[[], Contact | None]


@dataclass
class RemoteChange:
    object_type: str
    operation: str  # UPSERT or DELETE
    remote_id: str
    values: dict[str, Any]  # mirror field values, as mapped from what the remote sent
    changed_at: datetime | None = None  # the change's own time, by the remote's clock


@dataclass
class Outcome:
    status: str
    result: str

    @property
    def written(self) -> bool:
        return self.status == InboundStatus.PROCESSED


def refused(reason: str) -> Outcome:
    return Outcome(InboundStatus.REFUSED, f"refused: {reason}")


def apply_remote_change(
    connection: Connection,
    change: RemoteChange,
    *,
    actor: Actor,
    found: tuple[MirrorModel | None, Link | None] | None = None,
    parent: ParentLookup | None = None,
) -> Outcome:
    change.changed_at = policy.clamped(change.changed_at)
    obj, link = found if found is not None else find(connection, change)
    if change.operation == DELETE:
        return _delete(connection, change, obj, actor)
    if obj is None:
        return _create(connection, change, actor, parent)
    return _update(connection, change, obj, link, actor)


def find(connection: Connection, change: RemoteChange) -> tuple[MirrorModel | None, Link | None]:
    link = Link.objects.filter(
        connection=connection, object_type=change.object_type, remote_id=change.remote_id
    ).first()
    if link is None or not change.remote_id:
        return None, None
    return mirror_model(change.object_type).objects.filter(pk=link.object_id).first(), link


def _delete(
    connection: Connection, change: RemoteChange, obj: MirrorModel | None, actor: Actor
) -> Outcome:
    if obj is None:
        return Outcome(InboundStatus.PROCESSED, DELETED_UNKNOWN)
    reason = policy.refusal(connection, change.object_type, policy.DELETE, obj, {})
    if reason:
        return refused(reason)
    _obj, changed = mirror_delete(obj, actor=actor, source_updated_at=change.changed_at)
    if not changed:
        return Outcome(InboundStatus.ECHO, "already deleted")
    return Outcome(InboundStatus.PROCESSED, "deleted")


def _create(
    connection: Connection, change: RemoteChange, actor: Actor, parent: ParentLookup | None
) -> Outcome:
    values = {k: v for k, v in change.values.items() if v is not None}
    reason = policy.refusal(connection, change.object_type, policy.CREATE, None, values)
    if reason:
        return refused(reason)
    if parent is not None:
        # Before the transaction: the parent may be read from the remote (and written first).
        values["contact"] = parent()
        if values["contact"] is None:
            return Outcome(InboundStatus.IGNORED, "its contact is deleted here")
    with transaction.atomic():
        obj = mirror_create(
            mirror_model(change.object_type),
            workspace=connection.workspace,
            actor=actor,
            data=values,
            source_updated_at=change.changed_at,
        )
        seen = mirror_values(obj, change.values)  # what it sent, as stored (normalised)
        Link.objects.create(
            **new_link(
                connection, change.object_type, obj.pk, change.remote_id, seen, change.changed_at
            )
        )
    return Outcome(InboundStatus.PROCESSED, f"created {obj.public_id}")


def _update(
    connection: Connection,
    change: RemoteChange,
    obj: MirrorModel,
    link: Link | None,
    actor: Actor,
) -> Outcome:
    if obj.is_deleted:
        return Outcome(InboundStatus.IGNORED, "deleted here: not brought back")
    if policy.another_source_of_truth(connection, change.object_type):
        return Outcome(InboundStatus.IGNORED, "another connection is the source of truth")
    if _echo_of_last_push(connection, obj, change.values, link):
        return Outcome(InboundStatus.ECHO, "the state we last sent")
    wins = connection.is_source_of_truth(change.object_type)
    with transaction.atomic():
        current = locked_for_update(obj)
        decision = policy.merge(
            current, change.values, known_fields(link), change.changed_at, wins=wins
        )
        attempted = decision.attempted(change.values)
        reason = policy.refusal(connection, change.object_type, policy.UPDATE, current, attempted)
        if reason:
            return refused(reason)
        outcome = _write(current, decision, change, actor, wins)
        _remember(link, decision.seen, change.changed_at)
    return outcome


def _write(
    current: MirrorModel, decision: policy.Merge, change: RemoteChange, actor: Actor, wins: bool
) -> Outcome:
    if decision.outdated:
        return Outcome(InboundStatus.IGNORED, "older than the state we hold")
    if not decision.take:
        return Outcome(InboundStatus.ECHO, "nothing changed")
    # The record's time is its newest change, ours or theirs: the fields kept are not older.
    newest = max(filter(None, [change.changed_at, current.source_updated_at]), default=None)
    updated, changed = mirror_update(
        current,
        actor=actor,
        data=decision.take,
        source_updated_at=None if wins else newest,
        locked=True,  # by _update, in its transaction
    )
    if not changed:
        return Outcome(InboundStatus.ECHO, "nothing changed")
    return Outcome(InboundStatus.PROCESSED, f"updated {updated.public_id}")


def _remember(link: Link | None, seen: dict[str, Any], changed_at: datetime | None) -> None:
    """The remote now holds `seen`: keep the link's snapshot (and remote time) in step."""
    if link is None or link.pk is None or not seen:
        return
    link.remote_snapshot = with_fields(link, seen, changed_at)
    fields = {"remote_snapshot": link.remote_snapshot}
    if changed_at and (link.remote_updated_at is None or changed_at > link.remote_updated_at):
        fields["remote_updated_at"] = changed_at
    Link.objects.filter(pk=link.pk).update(**fields)


def _echo_of_last_push(
    connection: Connection, obj: MirrorModel, values: dict[str, Any], link: Link | None
) -> bool:
    """For links without a snapshot (made before snapshots were kept): the remote's state,
    mapped back, is exactly what we last pushed to it."""
    if link is None or link.remote_snapshot or link.last_pushed_hash in ("", "deleted"):
        return False
    candidate = copy.copy(obj)
    for name, value in values.items():
        setattr(candidate, name, value)
    return payload_hash(to_remote(candidate, connection)) == link.last_pushed_hash
