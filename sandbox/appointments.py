"""Calendar appointments (``/calendars/events/appointments``) and a contact's events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import contacts
from .core import Core
from .util import ApiError, check_body, drop_none, iso_from_ms, local_time, new_id, not_found

KIND = "appointment"
DEFAULT_GROUP_ID = "SbxGroup000000000001"
STATUSES = ("new", "confirmed", "cancelled", "showed", "noshow", "invalid")
MEETING_TYPES = ("custom", "zoom", "gmeet", "phone", "address", "ms_teams", "google")
FIELDS = {
    "title": "str",
    "meetingLocationType": "str",
    "meetingLocationId": "str",
    "appointmentStatus": "str",
    "assignedUserId": "str",
    "description": "str",
    "address": "str",
    "rrule": "str",
    "calendarId": "str",
    "startTime": "str",
    "endTime": "str",
    "notes": "str",
}
EVENT_FIELDS = ("id", "address", "title", "calendarId", "contactId", "groupId")
EVENT_FIELDS += ("appointmentStatus", "assignedUserId", "users", "notes", "source")
EVENT_FIELDS += ("startTime", "endTime", "dateAdded", "dateUpdated")
LOCAL_TIMES = ("startTime", "endTime", "dateAdded", "dateUpdated")


def _validate(body: Any, *, create: bool) -> dict[str, Any]:
    required = dict.fromkeys(("calendarId", "locationId", "contactId", "startTime"), "str")
    check_body(body, required if create else None, FIELDS)
    errors = []
    if body.get("appointmentStatus") not in (None, *STATUSES):
        errors.append(f"appointmentStatus must be one of the following values: {STATUSES}")
    if body.get("meetingLocationType") not in (None, *MEETING_TYPES):
        errors.append(f"meetingLocationType must be one of the following values: {MEETING_TYPES}")
    if errors:
        raise ApiError(422, errors)
    return body


def _default_end(start: str) -> str:
    """Without ``endTime`` the CRM uses the calendar's slot length; the sandbox uses 30 min."""
    try:
        return (
            datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(minutes=30)
        ).isoformat()
    except ValueError:
        return start


def _apply(record: dict[str, Any], body: dict[str, Any]) -> None:
    for name in FIELDS:
        if name in body and body[name] is not None:
            record[name] = body[name]
    if record.get("assignedUserId"):
        record["users"] = [record["assignedUserId"]]


def get(core: Core, event_id: str) -> dict[str, Any]:
    record = core.store.get(KIND, event_id)
    if record is None:
        raise not_found("Appointment")
    return record


def event_payload(record: dict[str, Any]) -> dict[str, Any]:
    appointment = drop_none({name: record.get(name) for name in EVENT_FIELDS})
    return {"locationId": record["locationId"], "appointment": appointment}


def create(core: Core, body: Any) -> dict[str, Any]:
    _validate(body, create=True)
    contact = contacts.get(core, body["contactId"])
    if contact["locationId"] != body["locationId"]:
        raise ApiError(400, "Contact does not belong to this location")
    now = iso_from_ms(core.clock.now_ms())
    record: dict[str, Any] = {
        "id": new_id(),
        "locationId": body["locationId"],
        "contactId": body["contactId"],
        "groupId": DEFAULT_GROUP_ID,
        "title": "Appointment",
        "appointmentStatus": "confirmed",
        "assignedUserId": "",
        "users": [],
        "source": "third_party",
        "isRecurring": bool(body.get("rrule")),
        "dateAdded": now,
        "dateUpdated": now,
    }
    _apply(record, body)
    record.setdefault("endTime", _default_end(record["startTime"]))
    core.store.put(KIND, record, parent_id=record["contactId"])
    core.emit("AppointmentCreate", event_payload(record))
    return record


def update(core: Core, event_id: str, body: Any) -> dict[str, Any]:
    _validate(body, create=False)
    record = get(core, event_id)
    _apply(record, body)
    record["dateUpdated"] = iso_from_ms(core.clock.now_ms())
    core.store.put(KIND, record, parent_id=record["contactId"])
    core.emit("AppointmentUpdate", event_payload(record))
    return record


def delete(core: Core, event_id: str) -> None:
    record = get(core, event_id)
    core.store.delete(KIND, event_id)
    core.emit("AppointmentDelete", event_payload(record))


def for_contact(core: Core, contact_id: str) -> list[dict[str, Any]]:
    contacts.get(core, contact_id)
    return core.store.children(KIND, contact_id)


def serialize(record: dict[str, Any]) -> dict[str, Any]:
    """Shape of ``AppointmentSchemaResponse`` / ``CalendarEventDTO`` (extra keys allowed)."""
    return drop_none(dict(record))


def serialize_event(record: dict[str, Any], zone: str) -> dict[str, Any]:
    """``GetEventSchema`` item of ``GET /contacts/{id}/appointments`` (has ``status``). Its
    times carry no offset: they are the location's wall clock (``zone``), as in the spec."""
    item = serialize(record)
    for name in LOCAL_TIMES:
        if name in item:
            item[name] = local_time(item[name], zone)
    item["status"] = "cancelled" if record.get("appointmentStatus") == "cancelled" else "booked"
    return item
