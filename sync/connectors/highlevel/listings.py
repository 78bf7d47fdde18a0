"""The CRM's location-wide listings (backfill), and its offset-less times.

    search_tasks(connector, {"skip": n})          POST /locations/{id}/tasks/search, 100 a page
    calendar_events(connector, cursor)            GET /calendars/ once, then GET /calendars/events
                                                  per calendar, window by window
    with_location_offsets(connector, events)      "2021-07-16 11:00:00" → the location's zone

Calendar events are listed by start time over windows (epoch ms). The windows cover
EVENTS_FROM to EVENTS_AHEAD after the run began (both fixed in the cursor, so a resumed run
pages the same windows), start at FIRST_SPAN, double while they are sparse and halve while
they are dense, so an empty decade costs a few calls and a busy month stays a modest page.
An event is kept only by the window its start lies in: adjacent windows never list it twice.
"""

import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.cache import cache
from django.utils.dateparse import parse_datetime

from sync.connectors.base import Page
from sync.transport.http import RemoteError

TASK_PAGE = 100
DAY_MS = 86_400_000
EVENTS_FROM = int(datetime(2015, 1, 1, tzinfo=UTC).timestamp() * 1000)
EVENTS_AHEAD = 3 * 366 * DAY_MS
FIRST_SPAN, MIN_SPAN, MAX_SPAN = 32 * DAY_MS, DAY_MS, 2 * 366 * DAY_MS
SPARSE, DENSE = 50, 250  # events in a window: below, the next doubles; above, it halves
TIMEZONE_CACHE_SECONDS = 86_400
LOCAL_TIMES = ("startTime", "endTime", "dateAdded", "dateUpdated")


def search_tasks(connector: Any, cursor: dict[str, Any] | None) -> Page:
    skip = int((cursor or {}).get("skip", 0))
    path = f"/locations/{connector.location}/tasks/search"
    body: dict[str, Any] = {"limit": TASK_PAGE, "skip": skip}
    if (cursor or {}).get("businessId"):
        body["businessId"] = cursor["businessId"]  # a business backfill: its contacts' tasks
    data = connector.call("POST", path, json=body).json()
    listed = [task for task in data.get("tasks") or [] if isinstance(task, dict)]
    for task in listed:
        if "id" not in task and task.get("_id"):
            task["id"] = task["_id"]
    more = len(listed) == TASK_PAGE
    next_cursor = {**(cursor or {}), "skip": skip + len(listed)} if more else None
    return Page(listed, next_cursor)


def calendar_events(connector: Any, cursor: dict[str, Any] | None) -> Page:
    if not cursor or "calendars" not in cursor:
        cursor = _first_window(connector)
        if cursor is None:
            return Page([])
    start = cursor["from"]
    end = min(start + cursor["span"], cursor["until"])
    params = {
        "locationId": connector.location,
        "calendarId": cursor["calendars"][cursor["index"]],
        "startTime": str(start),
        "endTime": str(end - 1),
    }
    data = connector.call("GET", "/calendars/events", params=params).json()
    events = [  # an event without a contact (a blocked slot) is no contact's appointment
        event
        for event in data.get("events") or []
        if isinstance(event, dict)
        and event.get("contactId")
        and start <= (_millis(event.get("startTime")) or -1) < end
    ]
    return Page(events, _next_window(cursor, end, len(events)))


def _first_window(connector: Any) -> dict[str, Any] | None:
    data = connector.call("GET", "/calendars/", params={"locationId": connector.location}).json()
    ids = sorted({c["id"] for c in data.get("calendars") or [] if c.get("id")})
    if not ids:
        return None
    now = int(time.time() * 1000)
    return {"calendars": ids, "index": 0, "from": EVENTS_FROM, "span": FIRST_SPAN,
            "until": now + EVENTS_AHEAD}  # fmt: skip


def _next_window(cursor: dict[str, Any], end: int, found: int) -> dict[str, Any] | None:
    if end >= cursor["until"]:
        if cursor["index"] + 1 >= len(cursor["calendars"]):
            return None
        return {**cursor, "index": cursor["index"] + 1, "from": EVENTS_FROM, "span": FIRST_SPAN}
    span = cursor["span"]
    if found < SPARSE:
        span = min(span * 2, MAX_SPAN)
    elif found > DENSE:
        span = max(span // 2, MIN_SPAN)
    return {**cursor, "from": end, "span": span}


def _millis(value: Any) -> int | None:
    moment = _parsed(value)
    if moment is None or moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)


def _parsed(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


# --- offset-less times --------------------------------------------------------------------


def with_location_offsets(connector: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`GET /contacts/{id}/appointments` writes its times as the location's wall clock
    without an offset; give them the location's offset so nothing reads them as UTC."""
    zone = None
    for event in events:
        for name in LOCAL_TIMES:
            moment = _parsed(event.get(name))
            if moment is None or moment.tzinfo is not None:
                continue
            zone = zone or location_zone(connector)
            event[name] = moment.replace(tzinfo=zone).isoformat()
    return events


def location_zone(connector: Any) -> ZoneInfo:
    """The location's time zone (`GET /locations/{id}` → `timezone`), cached per connection."""
    key = f"sync:highlevel:timezone:{connector.connection.pk}"
    name = cache.get(key)
    if name is None:
        data = connector.call("GET", f"/locations/{connector.location}").json()
        name = str((data.get("location") or {}).get("timezone") or "")
        _zone(name)
        cache.set(key, name, TIMEZONE_CACHE_SECONDS)
    return _zone(name)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise RemoteError(
            f"The CRM's location has no time zone we know ({name!r}); its appointment times "
            "carry no offset, so they cannot be read.",
            permanent=True,
        ) from exc
