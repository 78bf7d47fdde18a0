"""Writing audit entries. Called inside the caller's transaction, so a rollback drops it too."""

import datetime
import decimal
import functools
import re
import uuid
from typing import Any

from django.db import models

from portal.actors import Actor
from portal.bulk_insert import insert_rows
from portal.models import AuditEntry

MASK = "••••••"
_SECRET_NAME = re.compile(r"secret|token|password|passwd|api_?key|credential|private", re.I)


@functools.lru_cache(maxsize=1024)  # field names are few; bulk pages ask for each row's
def is_secret_field(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


_SCALARS = frozenset({str, int, bool, float, type(None)})  # to_jsonable keeps them as they are


def to_jsonable(value: Any) -> Any:
    """A JSON-safe copy of a field value: model instances by their public id, dates as ISO."""
    if type(value) in _SCALARS:  # most values; checked first, by exact type
        return value
    if isinstance(value, models.Model):
        return getattr(value, "public_id", None) or str(value.pk)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def mask_changes(changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Secrets are recorded as changed, never with their values."""
    return {
        field: [MASK if before else before, MASK if after else after]
        if is_secret_field(field)
        else [to_jsonable(before), to_jsonable(after)]
        for field, (before, after) in changes.items()
    }


def record_change(
    *,
    actor: Actor,
    action: str,
    instance: models.Model,
    changes: dict[str, list[Any]],
) -> AuditEntry:
    entry = audit_entry(actor=actor, action=action, instance=instance, changes=changes)
    entry.save(force_insert=True)
    return entry


def record_changes(entries: list[dict[str, Any]]) -> None:
    """Save entries built by `audit_values` at once (a page of bulk writes: one COPY or INSERT)."""
    insert_rows(AuditEntry, entries)


def audit_entry(
    *,
    actor: Actor,
    action: str,
    instance: models.Model,
    changes: dict[str, list[Any]],
) -> AuditEntry:
    """The unsaved audit entry of one change (record_change saves it)."""
    return AuditEntry(
        **audit_values(actor=actor, action=action, instance=instance, changes=changes)
    )


def audit_values(
    *,
    actor: Actor,
    action: str,
    instance: models.Model,
    changes: dict[str, list[Any]],
) -> dict[str, Any]:
    """The audit entry of one change as its column values (bulk writers insert many at once:
    portal.bulk_insert.insert_rows)."""
    workspace_id = getattr(instance, "workspace_id", None)
    if instance._meta.label_lower == "portal.workspace":
        workspace_id = instance.pk
    elif workspace_id is None and getattr(instance, "connection", None) is not None:
        # A connection's mapping or rule: its workspace's operators read this entry too.
        workspace_id = instance.connection.workspace_id
    return {
        "workspace_id": workspace_id,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor_label": actor.label[:200],
        "source": actor.source,
        "request_id": actor.request_id,
        "action": action,
        "object_type": instance._meta.label_lower,
        "object_id": getattr(instance, "public_id", None) or str(instance.pk),
        "object_repr": str(instance)[:200],
        "changes": mask_changes(changes),
    }


def field_changes(instance: models.Model, new_values: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for the fields whose value would change."""
    return {
        name: [getattr(instance, name), value]
        for name, value in new_values.items()
        if getattr(instance, name) != value
    }
