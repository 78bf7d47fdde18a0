"""Finding a record an unanswered create may have made in the CRM (architecture invariant 3).

    find_created(connector, object_type, payload, obj) -> remote id | None

The push engine calls this before creating again whenever an earlier create's outcome is
unknown (timeout, connection reset after sending, 5xx after the POST, a 2xx without an id).
The CRM has no idempotency keys for these endpoints, so we list what it holds and match what
we would send:

    contact      GET /contacts/search/duplicate        by e-mail, else phone
    task         GET /contacts/{contactId}/tasks        title + dueDate (+ body when both have one)
    note         GET /contacts/{contactId}/notes        body (+ userId when both have one)
    appointment  GET /contacts/{contactId}/appointments calendarId + startTime (+ title)
    user         GET /users/?locationId=…               e-mail, case-insensitively

A remote record already linked to another mirror record is never taken: two identical tasks
of one contact are two records, and the second create must not adopt the first one's id.

    task_contact_id(connector, task_id, title) -> the task's contact id | ""

Real `TaskCreate` deliveries can lack `contactId` (and `body`) although the schema documents
them; the task can only be read under its contact, so the location's task search
(`POST /locations/{locationId}/tasks/search`, narrowed by the title when there is one) finds it.
"""

import datetime
from collections.abc import Iterable
from typing import Any

from contacts.models import MirrorModel
from sync.models import Link

# object type → (list path under the parent contact, response key, fields that must match,
# fields compared only when both sides carry a value).
CHILD_LISTS = {
    "task": ("/contacts/{contact}/tasks", "tasks", ("title", "dueDate"), ("body",)),
    "note": ("/contacts/{contact}/notes", "notes", ("body",), ("userId",)),
    "appointment": (
        "/contacts/{contact}/appointments",
        "events",
        ("calendarId", "startTime"),
        ("title",),
    ),
}
DATE_FIELDS = frozenset({"dueDate", "startTime"})
TASK_SEARCH_PAGE = 100
TASK_SEARCH_PAGES = 10  # a title narrows it; without one, a thousand recent tasks at most


def find_created(connector: Any, object_type: str, payload: dict, obj: MirrorModel) -> str | None:
    if object_type == "contact":
        return _find_contact(connector, payload)
    sent = connector._body(object_type, payload, obj, create=True)
    if object_type == "user":
        users = connector.call("GET", "/users/", params={"locationId": connector.location})
        email = str(sent.get("email") or "").strip().lower()
        if not email:
            return None
        matches = (u for u in _items(users.json(), "users") if _lower(u.get("email")) == email)
        return _first_unlinked(connector, object_type, matches)
    if object_type not in CHILD_LISTS:
        return None
    path, key, required, optional = CHILD_LISTS[object_type]
    listed = connector.call("GET", path.format(contact=connector._contact_id(obj))).json()
    matches = (r for r in _items(listed, key) if _matches(r, sent, required, optional))
    return _first_unlinked(connector, object_type, matches)


def _find_contact(connector: Any, payload: dict) -> str | None:
    if not (payload.get("email") or payload.get("phone")):
        return None
    query = {"locationId": connector.location}
    query.update({"email": payload["email"]} if payload.get("email") else {})
    query.update({"number": payload["phone"]} if not payload.get("email") else {})
    found = connector.call("GET", "/contacts/search/duplicate", params=query).json()
    contact = found.get("contact") if isinstance(found, dict) else None
    return str(contact["id"]) if isinstance(contact, dict) and contact.get("id") else None


def _items(data: Any, key: str) -> list[dict[str, Any]]:
    items = data.get(key) if isinstance(data, dict) else None
    return [i for i in items or [] if isinstance(i, dict) and i.get("id")]


def _matches(remote: dict, sent: dict, required: Iterable[str], optional: Iterable[str]) -> bool:
    if any(not _same(name, remote.get(name), sent.get(name)) for name in required):
        return False
    return all(
        _same(name, remote.get(name), sent.get(name))
        for name in optional
        if remote.get(name) not in (None, "") and sent.get(name) not in (None, "")
    )


def _same(name: str, remote: Any, sent: Any) -> bool:
    if remote in (None, "") or sent in (None, ""):
        return remote in (None, "") and sent in (None, "")
    if name in DATE_FIELDS:
        # The CRM answers "2021-07-08T02:30:00.000Z" for our "2021-07-08T02:30:00+00:00".
        return _instant(remote) == _instant(sent)
    return str(remote).strip() == str(sent).strip()


def _instant(value: Any) -> datetime.datetime | str:
    text = str(value).strip().replace(" ", "T", 1)
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    # A time without an offset is taken as UTC (the CRM's list examples carry none).
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _lower(value: Any) -> str:
    return str(value or "").strip().lower()


def _first_unlinked(connector: Any, object_type: str, records: Iterable[dict]) -> str | None:
    candidates = [str(r["id"]) for r in records]
    if not candidates:
        return None
    taken = set(
        Link.objects.filter(
            connection=connector.connection, object_type=object_type, remote_id__in=candidates
        ).values_list("remote_id", flat=True)
    )
    return next((c for c in candidates if c not in taken), None)


def task_contact_id(connector: Any, task_id: str, title: str = "") -> str:
    path = f"/locations/{connector.location}/tasks/search"
    for page in range(TASK_SEARCH_PAGES):
        body: dict[str, Any] = {"limit": TASK_SEARCH_PAGE, "skip": page * TASK_SEARCH_PAGE}
        if title:
            body["query"] = title
        tasks = _flat_tasks(connector.call("POST", path, json=body).json())
        found = next((t for t in tasks if str(t.get("id") or t.get("_id")) == task_id), None)
        if found is not None:
            return str(found.get("contactId") or "")
        if len(tasks) < TASK_SEARCH_PAGE:
            return ""
    return ""


def _flat_tasks(data: Any) -> list[dict[str, Any]]:
    """The search's tasks (its schema declares arrays of items: nested lists are flattened)."""
    items = data.get("tasks") if isinstance(data, dict) else None
    flat: list[dict[str, Any]] = []
    for item in items or []:
        flat.extend(i for i in (item if isinstance(item, list) else [item]) if isinstance(i, dict))
    return flat
