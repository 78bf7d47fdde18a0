"""Location-wide reads: the location itself, the task search and calendar events by time.

- ``GET /locations/{locationId}``: the configured location with its ``timezone``;
- ``POST /locations/{locationId}/tasks/search``: every task of the location, paged by
  ``skip``/``limit`` (oldest first), filtered by contact, assignee, completion or text;
- ``GET /calendars/?locationId=``: the calendars (stored ones, plus every calendar an
  appointment of the location names, so directly seeded appointments are listed too);
- ``GET /calendars/events``: a calendar's (or user's, or group's) events whose start lies in
  ``[startTime, endTime]`` (epoch milliseconds), with their UTC offsets.
"""

from __future__ import annotations

from typing import Any

from . import appointments, tasks_notes
from .core import Core
from .store import PageQuery
from .util import ApiError, check_body, drop_none, ms_from_iso

MAX_TASK_LIMIT = 100
DEFAULT_TASK_LIMIT = 25  # the spec's default
TASK_FILTERS = {"contactId": "list", "assignedTo": "list", "query": "str", "businessId": "str"}
TASK_FILTERS |= {"completed": "bool"}


def location(core: Core, location_id: str) -> dict[str, Any]:
    if location_id != core.cfg.location_id:
        raise ApiError(400, "Location not found")
    return {
        "id": location_id,
        "companyId": core.cfg.company_id,
        "name": "Sandbox location",
        "timezone": core.cfg.timezone,
    }


def search_tasks(core: Core, location_id: str, body: Any) -> list[dict[str, Any]]:
    check_body(body if body is not None else {}, None, TASK_FILTERS)
    body = body or {}
    limit, skip = _number(body, "limit", DEFAULT_TASK_LIMIT), _number(body, "skip", 0)
    if limit > MAX_TASK_LIMIT:
        raise ApiError(422, [f"limit must not be greater than {MAX_TASK_LIMIT}"])
    if not any(body.get(name) is not None for name in TASK_FILTERS):
        rows, _total, _before = core.store.page(PageQuery("task", location_id, limit, offset=skip))
    else:
        rows = [t for t in core.store.all("task", location_id) if _task_matches(t, body)]
        rows = rows[skip : skip + limit]
    return [tasks_notes.serialize(t) for t in rows]


def _number(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ApiError(422, [f"{name} must be a positive number"])
    return int(value)


def _task_matches(task: dict[str, Any], body: dict[str, Any]) -> bool:
    if body.get("contactId") and task.get("contactId") not in body["contactId"]:
        return False
    if body.get("assignedTo") and task.get("assignedTo") not in body["assignedTo"]:
        return False
    if body.get("completed") is not None and bool(task.get("completed")) != body["completed"]:
        return False
    text = (body.get("query") or "").lower()
    return not text or text in f"{task.get('title', '')} {task.get('body', '')}".lower()


def calendars(core: Core, location_id: str | None) -> list[dict[str, Any]]:
    if not location_id:
        raise ApiError(400, "locationId should not be empty")
    stored = {c["id"]: c for c in core.store.all("calendar", location_id)}
    for event in core.store.all(appointments.KIND, location_id):
        calendar_id = event.get("calendarId")
        if calendar_id and calendar_id not in stored:
            stored[calendar_id] = {"id": calendar_id, "name": f"Calendar {calendar_id}"}
    return [drop_none({"isActive": True, **c, "locationId": location_id}) for c in stored.values()]


def events(core: Core, query: dict[str, str]) -> list[dict[str, Any]]:
    location_id = query.get("locationId")
    errors = [] if location_id else ["locationId should not be empty"]
    start, end = _millis(query, "startTime", errors), _millis(query, "endTime", errors)
    owners = {name: query[name] for name in ("calendarId", "userId", "groupId") if query.get(name)}
    if not owners:
        errors.append("Either of calendarId, userId or groupId is required")
    if errors:  # this operation documents 400 (a string message), not 422, for a bad query
        raise ApiError(400, "; ".join(errors))
    found = []
    for event in core.store.all(appointments.KIND, location_id):
        starts = ms_from_iso(event.get("startTime"))
        if starts is None or not start <= starts <= end:
            continue
        if all(_owned(event, name, value) for name, value in owners.items()):
            found.append(appointments.serialize(event))
    return sorted(found, key=lambda e: (ms_from_iso(e["startTime"]), e["id"]))


def _owned(event: dict[str, Any], name: str, value: str) -> bool:
    if name == "userId":
        return value in (event.get("assignedUserId"), *(event.get("users") or []))
    return event.get(name) == value


def _millis(query: dict[str, str], name: str, errors: list[str]) -> int:
    value = query.get(name, "")
    if not value.isdigit():
        errors.append(f"{name} must be a number of milliseconds")
        return 0
    return int(value)
