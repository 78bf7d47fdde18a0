"""The CRM connector's location-wide listings and its reading of offset-less times; every
request is validated against the CRM's OpenAPI files (the `crm` fixture)."""

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from contacts.models import Appointment
from ops.ingest import Ingestor
from portal.actors import Actor
from sync.connectors import connector_for
from sync.connectors.highlevel.listings import DENSE, EVENTS_FROM, FIRST_SPAN, TASK_PAGE
from sync.models import Link
from sync.transport.http import RemoteError
from tests.sync.factories import CRM_BASE_URL as CRM

pytestmark = pytest.mark.django_db
KOLKATA = timezone(timedelta(hours=5, minutes=30))


def test_tasks_are_paged_through_the_location_search(crm, conn):
    tasks = [{"id": f"T{i}", "contactId": "C1", "title": "Call"} for i in range(TASK_PAGE + 3)]
    search = f"{CRM}/locations/{conn.location_id}/tasks/search"
    crm.post(search, json={"tasks": tasks[:TASK_PAGE]})
    crm.post(search, json={"tasks": tasks[TASK_PAGE:]})
    connector = connector_for(conn)
    first = connector.fetch_page("task", None)
    second = connector.fetch_page("task", first.next_cursor)
    assert first.next_cursor == {"skip": TASK_PAGE} and second.next_cursor is None
    assert [t["id"] for t in first.items + second.items] == [t["id"] for t in tasks]
    sent = [json.loads(call.request.body) for call in crm.calls]
    assert sent == [{"limit": 100, "skip": 0}, {"limit": 100, "skip": 100}]


def events_call(call) -> tuple[str, int, int]:
    query = parse_qs(urlsplit(call.request.url).query)
    return query["calendarId"][0], int(query["startTime"][0]), int(query["endTime"][0])


def test_calendar_events_are_listed_per_calendar_window_by_window(crm, conn):
    crm.get(f"{CRM}/calendars/", json={"calendars": [{"id": "CalB"}, {"id": "CalA"}]})
    inside = {"id": "E1", "calendarId": "CalA", "contactId": "C1"}
    inside["startTime"] = datetime.fromtimestamp(EVENTS_FROM / 1000 + 3600, UTC).isoformat()
    # The window after: an event the CRM also returns but that starts in the next window.
    later = {**inside, "id": "E2", "startTime": "2099-01-01T00:00:00+00:00"}
    blocked = {"id": "E3", "calendarId": "CalA", "startTime": inside["startTime"]}  # no contact
    crm.get(f"{CRM}/calendars/events", json={"events": [inside, later, blocked]})
    connector = connector_for(conn)
    page = connector.fetch_page("appointment", None)
    assert [e["id"] for e in page.items] == ["E1"]
    assert page.next_cursor["span"] == 2 * FIRST_SPAN  # a sparse window: the next doubles
    calendar, start, end = events_call(crm.calls[1])
    assert (calendar, start, end) == ("CalA", EVENTS_FROM, EVENTS_FROM + FIRST_SPAN - 1)
    calendars, windows = set(), 1
    cursor = page.next_cursor
    while cursor is not None:
        page = connector.fetch_page("appointment", cursor)
        calendars.add(cursor["calendars"][cursor["index"]])
        cursor, windows = page.next_cursor, windows + 1
        assert windows < 100
    assert calendars == {"CalA", "CalB"}
    starts = [events_call(c) for c in crm.calls[1:]]
    for (cal, _s, end), (next_cal, next_start, _e) in itertools.pairwise(starts):
        assert next_start == end + 1 or next_cal != cal  # windows meet: nothing is skipped
    assert starts[-1][2] + 1 > datetime.now(UTC).timestamp() * 1000  # and reach the future


def test_a_dense_window_halves_the_next(crm, conn):
    crm.get(f"{CRM}/calendars/", json={"calendars": [{"id": "CalA"}]})
    start = datetime.fromtimestamp(EVENTS_FROM / 1000 + 60, UTC).isoformat()
    event = {"calendarId": "CalA", "contactId": "C1", "startTime": start}
    busy = [{"id": f"E{i}", **event} for i in range(DENSE + 1)]
    crm.get(f"{CRM}/calendars/events", json={"events": busy})
    page = connector_for(conn).fetch_page("appointment", None)
    assert len(page.items) == DENSE + 1 and page.next_cursor["span"] == FIRST_SPAN // 2


def test_a_contacts_offset_less_appointment_times_are_the_locations_wall_clock(
    crm, conn, linked_contact
):
    crm.get(
        f"{CRM}/locations/{conn.location_id}",
        json={"location": {"id": conn.location_id, "timezone": "Asia/Kolkata"}},
    )
    event = {"id": "E1", "calendarId": "CalA", "contactId": "C1", "title": "Demo"}
    event |= {"startTime": "2021-07-16 11:00:00", "endTime": "2021-07-16 11:30:00"}
    crm.get(f"{CRM}/contacts/C1/appointments", json={"events": [event]})
    page = connector_for(conn).fetch_page("appointment", {"contactId": "C1"})
    assert page.items[0]["startTime"] == "2021-07-16T11:00:00+05:30"
    ingestor = Ingestor(conn, Actor.connection(conn, source="reconcile"))
    assert ingestor.apply("appointment", page.items, parents={"E1": linked_contact}).created == 1
    appointment = Appointment.objects.get()
    assert appointment.start_time == datetime(2021, 7, 16, 11, 0, tzinfo=KOLKATA)
    assert appointment.start_time == datetime(2021, 7, 16, 5, 30, tzinfo=UTC)
    assert Link.objects.get(object_type="appointment").remote_id == "E1"
    # The zone is cached per connection: a second read asks the CRM only for the events.
    connector_for(conn).fetch_page("appointment", {"contactId": "C1"})
    paths = [urlsplit(c.request.url).path for c in crm.calls]
    assert paths.count(f"/locations/{conn.location_id}") == 1


def test_an_unknown_location_time_zone_is_a_clear_permanent_error(crm, conn):
    crm.get(f"{CRM}/locations/{conn.location_id}", json={"location": {"timezone": "Mars/Base"}})
    event = {"id": "E1", "startTime": "2021-07-16 11:00:00"}
    crm.get(f"{CRM}/contacts/C1/appointments", json={"events": [event]})
    with pytest.raises(RemoteError, match="no time zone we know") as raised:
        connector_for(conn).fetch_page("appointment", {"contactId": "C1"})
    assert raised.value.permanent
