"""The CRM's webhook events (tests/specs/highlevel/webhooks/): what each one means.

To handle a new event type, add one line to EVENTS: the object type it is about, whether it
upserts or deletes, where the record sits in the body (`nested`), the fields it implies
(`implied`, e.g. TaskComplete → completed) and the body field that routes it to a workspace.
Field values then go through the connection's mappings (sync.mapping.mapper.from_remote).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync.inbound.events import DELETE, UPSERT, EventError, ParsedEvent, clean_text, required_id
from sync.transport.webhook_checks import parse_timestamp


@dataclass(frozen=True)
class EventSpec:
    object_type: str
    operation: str
    nested: str = ""  # the key holding the record ("appointment"); "" = the body itself
    implied: dict[str, Any] = field(default_factory=dict)
    routing_field: str = "locationId"


EVENTS: dict[str, EventSpec] = {
    "ContactCreate": EventSpec("contact", UPSERT),
    "ContactUpdate": EventSpec("contact", UPSERT),
    "ContactDndUpdate": EventSpec("contact", UPSERT),
    "ContactTagUpdate": EventSpec("contact", UPSERT),
    "ContactDelete": EventSpec("contact", DELETE),
    "TaskCreate": EventSpec("task", UPSERT),
    "TaskComplete": EventSpec("task", UPSERT, implied={"completed": True}),
    "TaskDelete": EventSpec("task", DELETE),
    "NoteCreate": EventSpec("note", UPSERT),
    "NoteUpdate": EventSpec("note", UPSERT),
    "NoteDelete": EventSpec("note", DELETE),
    "AppointmentCreate": EventSpec("appointment", UPSERT, nested="appointment"),
    "AppointmentUpdate": EventSpec("appointment", UPSERT, nested="appointment"),
    "AppointmentDelete": EventSpec("appointment", DELETE, nested="appointment"),
    "UserCreate": EventSpec("user", UPSERT, routing_field="companyId"),
}

# Documented fields without which a record cannot be written: missing → fetch it from the CRM.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": (),
    "user": ("email",),
    "task": ("contactId", "title"),
    "note": ("contactId", "body"),
    "appointment": ("contactId", "calendarId", "startTime"),
}
ENVELOPE_FIELDS = frozenset({"type", "webhookId", "timestamp"})
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def event_spec(event_type: Any) -> EventSpec | None:
    return EVENTS.get(event_type) if isinstance(event_type, str) else None


def routing_key(payload: dict[str, Any]) -> str:
    """The locationId (or companyId for user events) that names the workspace."""
    spec = event_spec(payload.get("type"))
    field_name = spec.routing_field if spec else "locationId"
    return clean_text(payload.get(field_name), 64)


def parse(payload: dict[str, Any], delivered_at: datetime | None) -> ParsedEvent:
    spec = event_spec(payload.get("type"))
    if spec is None:
        raise EventError(f"Unknown event type {payload.get('type')!r}.")
    record = payload.get(spec.nested) if spec.nested else payload
    if not isinstance(record, dict):
        raise EventError(f"The delivery carries no {spec.nested or 'record'} object.")
    if not spec.nested:  # the record is the body: leave the envelope out ("type" is a field)
        record = {k: v for k, v in record.items() if k not in ENVELOPE_FIELDS}
    record = normalized_record(spec.object_type, {**record, **spec.implied})
    return ParsedEvent(
        object_type=spec.object_type,
        operation=spec.operation,
        remote_id=required_id(record.get("id"), "record id"),
        payload=record,
        contact_remote_id=clean_text(record.get("contactId"), 128),
        source_updated_at=source_time(record, payload.get("type", ""), delivered_at),
    )


def normalized_record(object_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """Smooth the CRM's event quirks so the field maps read events like API records."""
    birth = record.get("dateOfBirth")
    if object_type == "contact" and isinstance(birth, str) and _ISO_DATETIME.match(birth):
        record["dateOfBirth"] = birth[:10]  # events send a datetime; the mapping wants a date
    if object_type == "user":
        _nest_roles(record)
    return record


def _nest_roles(user: dict[str, Any]) -> None:
    """A user event carries role and `locations` at the top level; the users API (and so the
    field map) nests type, role and locationIds under `roles`."""
    if "locations" in user and "locationIds" not in user:
        user["locationIds"] = user["locations"]
    roles = dict(user.get("roles") if isinstance(user.get("roles"), dict) else {})
    for name in ("type", "role", "locationIds"):
        if name in user:
            roles.setdefault(name, user[name])
    if roles:
        user["roles"] = roles


def source_time(record: dict[str, Any], event_type: str, delivered_at: datetime | None):
    """The change's own time: dateUpdated; dateAdded for creations; else the delivery's."""
    candidates = [record.get("dateUpdated")]
    if isinstance(event_type, str) and event_type.endswith("Create"):
        candidates.append(record.get("dateAdded"))
    for value in candidates:
        moment = parse_timestamp(value)
        if moment is not None:
            return moment
    return delivered_at


def missing_fields(parsed: ParsedEvent) -> list[str]:
    return [
        name
        for name in REQUIRED_FIELDS.get(parsed.object_type, ())
        if parsed.payload.get(name) in (None, "")
    ]
