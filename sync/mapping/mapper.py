"""Field mapping between mirror objects and remote payloads, in both directions.

    to_remote(obj, connection) -> dict                       mirror → remote payload
    from_remote(payload, object_type, connection, instance=None, specs=None) -> mirror values
    payload_hash(payload) -> str                             what Link.last_pushed_hash stores

    cleared_fields(obj, connection, changed, clear_value) -> dict   the clears an update sends

Mappings are the connector's `default_mappings` (code defaults per provider) merged field by
field with the connection's FieldMapping rows (`mapping_plan`): a row for the same remote path
or mirror field overrides that default, a row with direction "off" disables it, any other row
is added. A CRM custom field is mapped as `custom_fields.<key>` ↔ `customFields#<field id>`
and sent as one `{"id", "field_value"}` entry of the `customFields` list. Empty values (None,
"") are left out of outbound payloads (a create sends only what is set); keys absent from an
inbound payload are left out of the result, so a partial webhook never blanks fields it did not
carry. An update adds `cleared_fields`: each mapped field the change emptied, in the form the
remote accepts for "empty" (the connector's `clear_value`), so a cleared phone is cleared there
too. Only fields the change touched are cleared, never every empty field: a value the remote set
that has not reached us yet is not overwritten with our stale empty one.
Link.last_pushed_hash stays the hash of `to_remote` (the state), which is what inbound echo
detection recomputes from a webhook.
"""

import datetime
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models

from contacts.models import MirrorModel
from portal.batch_memo import memoized
from sync.connectors import connector_class
from sync.mapping.paths import append_at, set_path
from sync.mapping.specs import CUSTOM_FIELDS, REFERENCE, FieldSpec
from sync.mapping.transforms import MappingError, apply_transform
from sync.models import Connection, Direction, FieldMapping, Link
from sync.objects import TYPE_BY_MODEL, mirror_model, object_type_of

Transform = FieldMapping.Transform
CUSTOM_PREFIX = "custom_fields."
REMOTE_CUSTOM_MARK = "#"


@dataclass(frozen=True)
class PlannedField:
    """One line of the merged mapping: the spec used and where it comes from."""

    spec: FieldSpec
    origin: str  # one of ORIGINS

    @property
    def used(self) -> bool:
        return self.origin != DISABLED


DEFAULT, OVERRIDE, ADDED, DISABLED = "default", "override", "added", "disabled"
ORIGINS = (DEFAULT, OVERRIDE, ADDED, DISABLED)


def mapping_plan(connection: Connection, object_type: str) -> list[PlannedField]:
    """The connector's defaults merged with the connection's rows, in order (defaults first);
    read once per batch of work (portal/batch_memo.py)."""
    if connection.pk is None:
        return _merged_plan(connection, object_type)
    key = ("mapping_plan", connection.pk, object_type)
    return memoized(key, lambda: _merged_plan(connection, object_type))


def _merged_plan(connection: Connection, object_type: str) -> list[PlannedField]:
    defaults = connector_class(connection.provider).default_mappings.get(object_type, [])
    rows = [_row_spec(m) for m in connection.mappings.all() if m.object_type == object_type]
    plan, matched = [], set()
    for default in defaults:
        index = next((i for i, row in enumerate(rows) if _same_field(row, default)), None)
        if index is None:
            plan.append(PlannedField(default, DEFAULT))
        elif rows[index].direction == Direction.OFF or index in matched:
            plan.append(PlannedField(default, DISABLED))
        else:
            plan.append(PlannedField(rows[index], OVERRIDE))
        if index is not None:
            matched.add(index)
    for index, row in enumerate(rows):
        if index not in matched:
            plan.append(PlannedField(row, DISABLED if row.direction == Direction.OFF else ADDED))
    return plan


def mappings_for(connection: Connection, object_type: str) -> list[FieldSpec]:
    return [p.spec for p in mapping_plan(connection, object_type) if p.used]


def _row_spec(row: FieldMapping) -> FieldSpec:
    return FieldSpec(row.mirror_field, row.remote_path, row.direction, row.transform, row.argument)


def _same_field(row: FieldSpec, default: FieldSpec) -> bool:
    """A row speaks for a default when it names the same remote path or mirror field."""
    if row.remote_path and row.remote_path == default.remote_path:
        return True
    return bool(row.mirror_field) and row.mirror_field == default.mirror_field


def payload_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- mirror → remote ------------------------------------------------------------------------


def to_remote(
    obj: MirrorModel, connection: Connection, only: Iterable[str] | None = None
) -> dict[str, Any]:
    """The mapped payload; `only`: just the mappings reading these mirror fields."""
    wanted = None if only is None else set(only)
    payload: dict[str, Any] = {}
    specs = mappings_for(connection, object_type_of(obj))
    explicit = _explicit_custom_keys(specs)
    for spec in specs:
        if not spec.outbound or (wanted is not None and not wanted & mirror_names(spec)):
            continue
        value = _outbound_value(obj, spec, connection)
        if spec.transform == CUSTOM_FIELDS and value:
            value = [entry for entry in value if entry["id"] not in explicit] or None
        if value is None or value == "":
            continue
        if REMOTE_CUSTOM_MARK in spec.remote_path:
            list_path, key = spec.remote_path.split(REMOTE_CUSTOM_MARK, 1)
            append_at(payload, list_path, {"id": key, "field_value": value})
        elif spec.transform == CUSTOM_FIELDS:
            for entry in value:
                append_at(payload, spec.remote_path, entry)
        else:
            set_path(payload, spec.remote_path, value)
    return payload


def _explicit_custom_keys(specs: list[FieldSpec]) -> set[str]:
    """Mirror custom-field keys with a mapping of their own: the whole-list default skips them
    (the CRM knows them by its field id, not by our key)."""
    return {
        spec.mirror_field.removeprefix(CUSTOM_PREFIX)
        for spec in specs
        if spec.outbound and spec.mirror_field.startswith(CUSTOM_PREFIX)
    }


def cleared_fields(
    obj: MirrorModel,
    connection: Connection,
    changed: Iterable[str],
    clear_value: Callable[[str], Any],
) -> dict[str, Any]:
    """{remote path: value} for each outbound field in `changed` that is now empty."""
    changed = set(changed)
    cleared: dict[str, Any] = {}
    for spec in mappings_for(connection, object_type_of(obj)):
        if not spec.outbound or spec.transform in (Transform.CONSTANT, CUSTOM_FIELDS):
            continue  # constants never empty; a whole custom-field list has no per-key "before"
        if not changed & mirror_names(spec):
            continue
        if not _is_cleared(obj, spec, connection):
            continue
        value = clear_value(spec.remote_path)
        if REMOTE_CUSTOM_MARK in spec.remote_path:
            list_path, key = spec.remote_path.split(REMOTE_CUSTOM_MARK, 1)
            append_at(cleared, list_path, {"id": key, "field_value": value})
        else:
            set_path(cleared, spec.remote_path, value)
    return cleared


def unsendable_fields(obj: MirrorModel, connection: Connection) -> set[str]:
    """Mirror fields set here that no payload can carry yet (a related record not linked)."""
    return {
        spec.mirror_field
        for spec in mappings_for(connection, object_type_of(obj))
        if spec.outbound
        and spec.transform == REFERENCE
        and getattr(obj, spec.mirror_field) is not None
        and _outbound_value(obj, spec, connection) is None
    }


def _is_cleared(obj: MirrorModel, spec: FieldSpec, connection: Connection) -> bool:
    if spec.transform == REFERENCE:
        # A related record not linked to this remote yet is a value we cannot send, not "none".
        return getattr(obj, spec.mirror_field) is None
    return _outbound_value(obj, spec, connection) in (None, "")


def mirror_names(spec: FieldSpec) -> set[str]:
    """The mirror fields (as OutboundChange.changed_fields names them) a mapping reads."""
    if spec.mirror_field.startswith(CUSTOM_PREFIX):
        return {"custom_fields"}
    return {name.strip() for name in spec.mirror_field.split(",") if name.strip()}


def merge_payloads(payload: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`payload` with `extra` added: nested objects merged, lists (custom fields) joined."""
    merged = dict(payload)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_payloads(merged[key], value)
        elif isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = [*merged[key], *value]
        else:
            merged[key] = value
    return merged


def _outbound_value(obj: MirrorModel, spec: FieldSpec, connection: Connection) -> Any:
    if spec.transform == Transform.CONSTANT:
        return spec.argument
    if spec.transform == Transform.NAME:
        parts = [getattr(obj, name.strip()) for name in spec.mirror_field.split(",")]
        return " ".join(p for p in parts if p)
    if spec.transform == REFERENCE:
        return _remote_id_of(getattr(obj, spec.mirror_field), connection)
    value = _read_mirror(obj, spec.mirror_field)
    if spec.transform == CUSTOM_FIELDS:
        return [{"id": k, "field_value": v} for k, v in (value or {}).items()] or None
    return apply_transform(value, spec, outbound=True)


def _remote_id_of(related: MirrorModel | None, connection: Connection) -> str | None:
    if related is None:
        return None
    link = Link.objects.filter(
        connection=connection, object_type=object_type_of(related), object_id=related.pk
    ).first()
    return link.remote_id if link and link.remote_id else None


def _read_mirror(obj: MirrorModel, name: str) -> Any:
    if name.startswith(CUSTOM_PREFIX):
        return (obj.custom_fields or {}).get(name.removeprefix(CUSTOM_PREFIX))
    return getattr(obj, name)


# --- remote → mirror ------------------------------------------------------------------------


def from_remote(
    payload: dict[str, Any],
    object_type: str,
    connection: Connection,
    instance: MirrorModel | None = None,
    *,
    specs: list[FieldSpec] | None = None,
) -> dict[str, Any]:
    """Mirror field values for `contacts.services` (custom fields merged into `instance`'s).

    `specs`: `mappings_for(connection, object_type)`, when the caller maps many records."""
    model = mirror_model(object_type)
    values: dict[str, Any] = {}
    custom: dict[str, Any] = dict(getattr(instance, "custom_fields", None) or {})
    if specs is None:
        specs = mappings_for(connection, object_type)
    mapped_ids = {s.remote_path.split(REMOTE_CUSTOM_MARK, 1)[1] for s in specs
                  if s.inbound and REMOTE_CUSTOM_MARK in s.remote_path}  # fmt: skip
    for spec in specs:
        if not spec.inbound or spec.transform == Transform.CONSTANT:
            continue
        found, raw = _read_remote(payload, spec.remote_path)
        if not found:
            continue
        if spec.mirror_field.startswith(CUSTOM_PREFIX):
            custom[spec.mirror_field.removeprefix(CUSTOM_PREFIX)] = apply_transform(
                raw, spec, False
            )
        elif spec.transform == CUSTOM_FIELDS:
            entries = _custom_list_to_dict(raw)
            custom.update({k: v for k, v in entries.items() if k not in mapped_ids})
        elif spec.transform == Transform.NAME:
            values.update(_split_name(raw, spec.mirror_field))
        elif spec.transform == REFERENCE:
            values[spec.mirror_field] = _mirror_of(model, spec.mirror_field, raw, connection)
        else:
            values[spec.mirror_field] = _to_field(
                model, spec.mirror_field, apply_transform(raw, spec, False)
            )
    if custom != (getattr(instance, "custom_fields", None) or {}):
        values["custom_fields"] = custom
    return values


def reads_database(payload: dict[str, Any], specs: list[FieldSpec]) -> bool:
    """Whether from_remote(payload, …, specs=specs) would query the database: a reference
    (e.g. the assigned user) is resolved through its Link; every other transform is pure."""
    return any(
        spec.inbound
        and spec.transform == REFERENCE
        and not spec.mirror_field.startswith(CUSTOM_PREFIX)
        and _read_remote(payload, spec.remote_path)[1]
        for spec in specs
    )


def _read_remote(payload: dict[str, Any], path: str) -> tuple[bool, Any]:
    if REMOTE_CUSTOM_MARK in path:
        list_path, key = path.split(REMOTE_CUSTOM_MARK, 1)
        found, entries = _read_remote(payload, list_path)
        for entry in entries or [] if found else []:
            if key in (entry.get("id"), entry.get("key")):
                return True, entry.get("value", entry.get("field_value"))
        return False, None
    current: Any = payload
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _custom_list_to_dict(entries: Any) -> dict[str, Any]:
    if not isinstance(entries, list):
        raise MappingError("customFields must be a list of {id, value} objects.")
    return {
        e.get("key") or e["id"]: e.get("value", e.get("field_value"))
        for e in entries
        if isinstance(e, dict) and (e.get("key") or e.get("id"))
    }


def _split_name(full_name: Any, mirror_fields: str) -> dict[str, str]:
    names = [n.strip() for n in mirror_fields.split(",")]
    first, _, rest = str(full_name or "").strip().partition(" ")
    parts = [first, rest.strip()] + [""] * (len(names) - 2)
    return dict(zip(names, parts, strict=False))


def _mirror_of(model: type[MirrorModel], field: str, remote_id: Any, connection: Connection):
    if not remote_id:
        return None
    related_model = model._meta.get_field(field).related_model
    link = Link.objects.filter(
        connection=connection, object_type=TYPE_BY_MODEL[related_model], remote_id=remote_id
    ).first()
    return related_model.objects.filter(pk=link.object_id).first() if link else None


def _to_field(model: type[MirrorModel], name: str, value: Any) -> Any:
    field = model._meta.get_field(name)
    if isinstance(value, datetime.datetime) and not isinstance(field, models.DateTimeField):
        return value.date() if isinstance(field, models.DateField) else value
    return value
