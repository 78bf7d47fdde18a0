"""Per-contact tasks and notes (``/contacts/{contactId}/tasks`` and ``/notes``)."""

from __future__ import annotations

from typing import Any

from . import contacts
from .core import Core
from .util import check_body, drop_none, iso_from_ms, new_id, not_found

TASK_FIELDS = {"title": "str", "body": "str", "dueDate": "str", "assignedTo": "str"}
TASK_FIELDS |= {"completed": "bool"}
NOTE_FIELDS = {"userId": "str", "body": "str", "title": "str", "color": "str", "pinned": "bool"}
TASK_EVENT_FIELDS = ("locationId", "id", "assignedTo", "body", "contactId", "title")
TASK_EVENT_FIELDS += ("dateAdded", "dueDate")
NOTE_EVENT_FIELDS = ("locationId", "id", "body", "contactId", "dateAdded")


def _child(core: Core, kind: str, contact_id: str, record_id: str, what: str) -> dict[str, Any]:
    record = core.store.get(kind, record_id)
    if record is None or record.get("contactId") != contact_id:
        raise not_found(what)
    return record


def _new_child(core: Core, contact_id: str) -> dict[str, Any]:
    contact = contacts.get(core, contact_id)
    now = iso_from_ms(core.clock.now_ms())
    return {
        "id": new_id(),
        "contactId": contact_id,
        "locationId": contact["locationId"],
        "dateAdded": now,
        "dateUpdated": now,
    }


def _touch(
    core: Core, record: dict[str, Any], body: dict[str, Any], fields: dict[str, str]
) -> None:
    for name in fields:
        if name in body:
            record[name] = body[name]
    record["dateUpdated"] = iso_from_ms(core.clock.now_ms())


def serialize(record: dict[str, Any]) -> dict[str, Any]:
    """Task/note as returned by the API (``locationId`` is internal bookkeeping)."""
    return drop_none({k: v for k, v in record.items() if k != "locationId"})


def _event(record: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return drop_none({name: record.get(name) for name in fields})


def _create_child(
    core: Core,
    kind: str,
    contact_id: str,
    body: dict[str, Any],
    fields: dict[str, str],
    event_fields: tuple[str, ...],
) -> dict[str, Any]:
    """A new task/note of the contact from `body`, stored, its *Create webhook sent."""
    record = _new_child(core, contact_id)
    _touch(core, record, body, fields)
    record["dateUpdated"] = record["dateAdded"]
    core.store.put(kind, record, parent_id=contact_id)
    core.emit(f"{kind.capitalize()}Create", _event(record, event_fields))
    return record


# -- tasks --------------------------------------------------------------------------------
def list_tasks(core: Core, contact_id: str) -> list[dict[str, Any]]:
    contacts.get(core, contact_id)
    return core.store.children("task", contact_id)


def get_task(core: Core, contact_id: str, task_id: str) -> dict[str, Any]:
    return _child(core, "task", contact_id, task_id, "Task")


def create_task(core: Core, contact_id: str, body: Any) -> dict[str, Any]:
    check_body(body, {"title": "str", "dueDate": "str"}, TASK_FIELDS)
    if not isinstance(body.get("completed"), bool):
        check_body(body, {"completed": "bool"})
    return _create_child(core, "task", contact_id, body, TASK_FIELDS, TASK_EVENT_FIELDS)


def update_task(core: Core, contact_id: str, task_id: str, body: Any) -> dict[str, Any]:
    """Partial update; completing a task (false -> true) fires TaskComplete."""
    check_body(body, None, TASK_FIELDS)
    record = get_task(core, contact_id, task_id)
    was_completed = bool(record.get("completed"))
    _touch(core, record, body, TASK_FIELDS)
    core.store.put("task", record, parent_id=contact_id)
    if record.get("completed") and not was_completed:
        core.emit("TaskComplete", _event(record, TASK_EVENT_FIELDS))
    return record


def complete_task(core: Core, contact_id: str, task_id: str, body: Any) -> dict[str, Any]:
    check_body(body, None, {"completed": "bool"})
    if not isinstance(body.get("completed"), bool):
        check_body(body, {"completed": "bool"})
    return update_task(core, contact_id, task_id, {"completed": body["completed"]})


def delete_task(core: Core, contact_id: str, task_id: str) -> None:
    record = get_task(core, contact_id, task_id)
    core.store.delete("task", task_id)
    core.emit("TaskDelete", _event(record, TASK_EVENT_FIELDS))


# -- notes --------------------------------------------------------------------------------
def list_notes(core: Core, contact_id: str) -> list[dict[str, Any]]:
    contacts.get(core, contact_id)
    return core.store.children("note", contact_id)


def get_note(core: Core, contact_id: str, note_id: str) -> dict[str, Any]:
    return _child(core, "note", contact_id, note_id, "Note")


def create_note(core: Core, contact_id: str, body: Any) -> dict[str, Any]:
    check_body(body, {"body": "str"}, NOTE_FIELDS)
    return _create_child(core, "note", contact_id, body, NOTE_FIELDS, NOTE_EVENT_FIELDS)


def update_note(core: Core, contact_id: str, note_id: str, body: Any) -> dict[str, Any]:
    check_body(body, None, NOTE_FIELDS)
    record = get_note(core, contact_id, note_id)
    _touch(core, record, body, NOTE_FIELDS)
    core.store.put("note", record, parent_id=contact_id)
    core.emit("NoteUpdate", _event(record, NOTE_EVENT_FIELDS))
    return record


def delete_note(core: Core, contact_id: str, note_id: str) -> None:
    record = get_note(core, contact_id, note_id)
    core.store.delete("note", note_id)
    core.emit("NoteDelete", _event(record, NOTE_EVENT_FIELDS))
