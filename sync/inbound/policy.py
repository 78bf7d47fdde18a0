"""The one inbound policy: what a connection may write here, and who wins a conflict.

Write permission (architecture invariant 10), checked before anything is written:
- the connection's direction for the object type must be `in` or `both`;
- its grant (`Connection.inbound_permissions`, else its connector's defaults: the CRM everything
  it owns, partners contact create/update) must list the operation and every field it changes;
- privileged user fields (contacts.privileged) need `may_write_privileged_user_fields`, unless
  the connector owns users (the CRM).

Conflicts (invariants 5 and 6), field by field against the link's snapshot of what the remote
last held (sync/inbound/snapshot.py):
- a field equal to the snapshot was not changed by the remote: the mirror's value stays (an
  echo of our own push changes nothing);
- a field the remote sent with a change older than what we know it holds is stale: ignored;
- a field the remote changed is taken when the mirror did not change it since, or, when both
  did, when the remote's change is the newer (newest wins by the source's own time, clamped to
  now + WEBHOOK_TOLERANCE_SECONDS so a far-future time cannot freeze a record);
- a connection that is source of truth for the type always wins; when another connection is,
  this one's changes to existing records are ignored;
- tombstones are final (a deleted record is never brought back).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from contacts.models import MirrorModel
from contacts.privileged import privileged_user_changes
from contacts.services import writable_fields
from sync.connectors import connector_class
from sync.inbound.snapshot import Known
from sync.inbound.values import comparable_values, mirror_values
from sync.models import Connection
from sync.objects import ObjectType, mirror_model

CREATE, UPDATE, DELETE = "create", "update", "delete"
OPERATIONS = (CREATE, UPDATE, DELETE)
EVERY_FIELD = "*"
EMPTY = (None, "", [], {})


# --- write permission -------------------------------------------------------------------------


def grants(connection: Connection) -> dict[str, Any]:
    """The connection's inbound grants: its own, else its connector's defaults."""
    own = connection.inbound_permissions
    return own if own else connector_class(connection.provider).default_inbound_permissions


def refusal(
    connection: Connection,
    object_type: str,
    operation: str,
    instance: MirrorModel | None,
    values: Mapping[str, Any],
) -> str:
    """Why this connection may not make this write ("" when it may).

    `values`: the fields the write would change (all of a create's)."""
    if not connection.receives(object_type):
        direction = str(connection.direction(object_type))
        return f"{object_type}s direction is {direction!r}: nothing comes in from this connection"
    grant = grants(connection).get(object_type) or {}
    if operation not in (grant.get("operations") or ()):
        return f"this connection may not {operation} {object_type}s"
    if operation == CREATE:  # a full listing names every mapped field; empty ones set nothing
        values = {name: value for name, value in values.items() if value not in EMPTY}
    allowed = grant.get("fields", EVERY_FIELD)
    others = sorted(n for n in values if allowed != EVERY_FIELD and n not in (allowed or ()))
    if others:
        return f"this connection may not write {', '.join(others)} of {object_type}s"
    if object_type == ObjectType.USER and not _may_write_privileged(connection):
        privileged = privileged_user_changes(instance, values)
        if privileged:
            return f"privileged user fields ({', '.join(privileged)}) need an explicit grant"
    return ""


def _may_write_privileged(connection: Connection) -> bool:
    owner = connector_class(connection.provider).owns_privileged_user_fields
    return owner or connection.may_write_privileged_user_fields


def permission_errors(value: Any) -> list[str]:
    """What is wrong with an `inbound_permissions` value (the admin form shows these)."""
    if not isinstance(value, dict):
        return ["Enter an object: {object type: {operations, fields}}."]
    errors = []
    for object_type, grant in value.items():
        if object_type not in ObjectType.values:
            errors.append(f"Unknown object type {object_type!r}.")
            continue
        if not isinstance(grant, dict):
            errors.append(f"{object_type}: enter an object with operations and fields.")
            continue
        unknown_ops = set(grant.get("operations") or []) - set(OPERATIONS)
        if unknown_ops or not isinstance(grant.get("operations", []), list):
            errors.append(f"{object_type}: operations are a list of create, update, delete.")
        fields = grant.get("fields", EVERY_FIELD)
        known = writable_fields(mirror_model(object_type))
        if fields != EVERY_FIELD and (not isinstance(fields, list) or set(fields) - set(known)):
            errors.append(f'{object_type}: fields are "*" or a list of {", ".join(known)}.')
    return errors


def clamped(moment: datetime | None) -> datetime | None:
    """A remote's change time, at most now + the webhook tolerance (no far-future freeze)."""
    if moment is None:
        return None
    if timezone.is_naive(moment):  # a listing's time without an offset is UTC
        moment = moment.replace(tzinfo=UTC)
    limit = timezone.now() + timedelta(seconds=settings.WEBHOOK_TOLERANCE_SECONDS)
    return min(moment, limit)


# --- conflicts ----------------------------------------------------------------------------


@dataclass
class Merge:
    take: dict[str, Any] = field(default_factory=dict)  # mirror field → the remote's value
    seen: dict[str, Any] = field(default_factory=dict)  # what the remote newly holds
    stale: list[str] = field(default_factory=list)  # sent, but older than what we know
    kept: list[str] = field(default_factory=list)  # both changed; the mirror's is newer

    def attempted(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """What the remote tried to change here, won or not (what permission is checked on)."""
        return {name: values[name] for name in [*self.take, *self.kept]}

    @property
    def outdated(self) -> bool:
        return bool(self.stale or self.kept) and not self.take


def merge(
    instance: MirrorModel,
    values: Mapping[str, Any],
    known: Mapping[str, Known],
    changed_at: datetime | None,
    *,
    wins: bool = False,
) -> Merge:
    """Which of the remote's `values` to write into `instance` (see the module's rules)."""
    incoming = comparable_values(type(instance), dict(values))
    current = mirror_values(instance, incoming)
    result = Merge()
    for name, value in incoming.items():
        last = known.get(name)
        if last is not None and value == last.value and not wins:
            continue  # the remote did not change it
        if last is not None and _older(changed_at, last.at) and not wins:
            result.stale.append(name)
            continue
        result.seen[name] = value
        if value == current[name]:
            continue
        mirror_changed = last is None or current[name] != last.value
        if wins or not mirror_changed or not _older(changed_at, instance.source_updated_at):
            result.take[name] = values[name]
        else:
            result.kept.append(name)
    return result


def another_source_of_truth(connection: Connection, object_type: str) -> bool:
    others = Connection.objects.live().filter(workspace_id=connection.workspace_id, active=True)
    return any(
        other.is_source_of_truth(object_type)
        for other in others.exclude(pk=connection.pk).only("source_of_truth")
    )


def _older(moment: datetime | None, than: datetime | None) -> bool:
    return bool(moment and than and moment < than)
