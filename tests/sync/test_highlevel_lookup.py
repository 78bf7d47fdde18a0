"""Idempotent creates for every CRM object type: after a lost create response the next attempt
lists what the CRM holds and links the match instead of creating a duplicate (invariant 3).
Every request is validated against the CRM's OpenAPI files by the `crm` fixture."""

import datetime
import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.utils import timezone

from sync.engine.push import drain
from sync.models import ChangeStatus, Link, OutboundChange
from tests.factories import (
    AppointmentFactory,
    CrmUserFactory,
    NoteFactory,
    TaskFactory,
)
from tests.sync.factories import CRM_BASE_URL as CRM

pytestmark = pytest.mark.django_db
WHEN = datetime.datetime(2026, 12, 1, 9, 30, tzinfo=datetime.UTC)


@dataclass
class Case:
    make: Any  # (workspace, contact) -> mirror object
    create_path: str
    list_path: str
    list_key: str
    update_path: str  # with {id}
    created: Any  # remote id -> create response body
    same: Any  # (obj, remote id) -> a listed record matching what we sent
    other: Any  # (obj, remote id) -> a listed record that must not match


CASES = {
    "task": Case(
        lambda ws, c: TaskFactory(
            workspace=ws, contact=c, title="Call back", body="About the invoice", due_date=WHEN
        ),
        "/contacts/C1/tasks",
        "/contacts/C1/tasks",
        "tasks",
        "/contacts/C1/tasks/{id}",
        lambda rid: {"task": {"id": rid}},
        # The CRM writes the same instant its own way ("…000Z").
        lambda o, rid: {"id": rid, "title": o.title, "body": o.body, "dueDate": _z(WHEN)},
        lambda o, rid: {"id": rid, "title": o.title, "dueDate": _z(WHEN + _day)},
    ),
    "note": Case(
        lambda ws, c: NoteFactory(workspace=ws, contact=c, body="Met at the fair"),
        "/contacts/C1/notes",
        "/contacts/C1/notes",
        "notes",
        "/contacts/C1/notes/{id}",
        lambda rid: {"note": {"id": rid}},
        lambda o, rid: {"id": rid, "body": o.body},
        lambda o, rid: {"id": rid, "body": "Another note"},
    ),
    "appointment": Case(
        lambda ws, c: AppointmentFactory(workspace=ws, contact=c, start_time=WHEN),
        "/calendars/events/appointments",
        "/contacts/C1/appointments",
        "events",
        "/calendars/events/appointments/{id}",
        lambda rid: {"id": rid},
        lambda o, rid: {
            "id": rid,
            "calendarId": o.calendar_id,
            "title": o.title,
            "startTime": WHEN.strftime("%Y-%m-%d %H:%M:%S"),
        },
        lambda o, rid: {"id": rid, "calendarId": "othercal", "startTime": _z(WHEN)},
    ),
    "user": Case(
        lambda ws, c: CrmUserFactory(
            workspace=ws, email="Sam@example.com", location_ids=[ws.location_id]
        ),
        "/users/",
        "/users/",
        "users",
        "/users/{id}",
        lambda rid: {"id": rid},
        lambda o, rid: {"id": rid, "email": "sam@EXAMPLE.com"},
        lambda o, rid: {"id": rid, "email": "someone@example.com"},
    ),
}
_day = datetime.timedelta(days=1)


def _z(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture
def contact(linked_contact):
    return linked_contact


def lose_the_create_response(crm, case: Case, workspace, contact):
    """The first POST times out (the CRM may or may not have created the record)."""
    crm.post(CRM + case.create_path, body=requests.ReadTimeout("response lost"))
    obj = case.make(workspace, contact)
    drain()
    assert OutboundChange.objects.get().status == ChangeStatus.RETRYING
    OutboundChange.objects.update(available_at=timezone.now())
    crm.replace(
        "POST", CRM + case.create_path, json=case.created("NEW1"), status=201
    )  # a second create would succeed: the test proves it is never sent
    return obj


def calls_of(crm) -> list[tuple[str, str]]:
    return [(c.request.method, c.request.path_url.split("?")[0]) for c in crm.calls]


@pytest.mark.parametrize("object_type", sorted(CASES))
def test_a_lost_create_is_found_and_linked_not_created_again(
    crm, conn, workspace, contact, object_type
):
    case = CASES[object_type]
    obj = lose_the_create_response(crm, case, workspace, contact)
    listed = [case.other(obj, "OTHER1"), case.same(obj, "FOUND1")]
    crm.get(CRM + case.list_path, json={case.list_key: listed})
    crm.put(CRM + case.update_path.format(id="FOUND1"), json=case.created("FOUND1"))
    drain()
    assert OutboundChange.objects.get().status == ChangeStatus.DONE
    assert calls_of(crm) == [
        ("POST", case.create_path),
        ("GET", case.list_path),
        ("PUT", case.update_path.format(id="FOUND1")),
    ]
    link = Link.objects.get(connection=conn, object_type=object_type, object_id=obj.pk)
    assert link.remote_id == "FOUND1" and link.last_pushed_hash


@pytest.mark.parametrize("object_type", sorted(CASES))
def test_a_lost_create_that_the_crm_never_made_is_created(
    crm, conn, workspace, contact, object_type
):
    case = CASES[object_type]
    obj = lose_the_create_response(crm, case, workspace, contact)
    crm.get(CRM + case.list_path, json={case.list_key: [case.other(obj, "OTHER1")]})
    drain()
    assert OutboundChange.objects.get().status == ChangeStatus.DONE
    assert calls_of(crm) == [
        ("POST", case.create_path),
        ("GET", case.list_path),
        ("POST", case.create_path),
    ]
    link = Link.objects.get(connection=conn, object_type=object_type, object_id=obj.pk)
    assert link.remote_id == "NEW1"


def test_the_user_lookup_asks_for_the_connections_location(crm, conn, workspace, contact):
    case = CASES["user"]
    lose_the_create_response(crm, case, workspace, contact)
    crm.get(CRM + "/users/", json={"users": []})
    drain()
    assert crm.calls[1].request.params == {"locationId": workspace.location_id}


def test_a_match_already_linked_to_another_record_is_not_adopted(crm, conn, workspace, contact):
    """Two identical notes of one contact are two records: the second one is created."""
    case = CASES["note"]
    twin = NoteFactory(workspace=workspace, contact=contact, body="Met at the fair")
    Link.objects.create(connection=conn, object_type="note", object_id=twin.pk, remote_id="TWIN")
    OutboundChange.objects.all().delete()
    obj = lose_the_create_response(crm, case, workspace, contact)
    crm.get(CRM + case.list_path, json={"notes": [case.same(obj, "TWIN")]})
    drain()
    assert [m for m, _ in calls_of(crm)] == ["POST", "GET", "POST"]
    assert Link.objects.get(object_type="note", object_id=obj.pk).remote_id == "NEW1"


def test_a_5xx_after_the_post_is_an_unknown_outcome_too(crm, conn, workspace, contact):
    case = CASES["task"]
    crm.post(CRM + case.create_path, status=502)
    obj = case.make(workspace, contact)
    drain()
    OutboundChange.objects.update(available_at=timezone.now())
    crm.get(CRM + case.list_path, json={"tasks": [case.same(obj, "FOUND1")]})
    crm.put(CRM + "/contacts/C1/tasks/FOUND1", json={"task": {"id": "FOUND1"}})
    drain()
    assert [m for m, _ in calls_of(crm)] == ["POST", "GET", "PUT"]
    sent = json.loads(crm.calls[2].request.body)
    assert sent["title"] == "Call back"
    assert Link.objects.get(object_type="task", object_id=obj.pk).remote_id == "FOUND1"
