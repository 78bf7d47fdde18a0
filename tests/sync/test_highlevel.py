"""The CRM connector's endpoints; every request is validated against the CRM's OpenAPI files."""

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sync.connectors import connector_for
from sync.connectors.highlevel.oauth import (
    exchange_code,
    install_url,
    refresh_tokens,
)
from sync.engine.push import drain
from sync.models import ChangeStatus, OutboundChange, Rule
from sync.transport.http import RemoteError
from tests.factories import (
    AppointmentFactory,
    ContactFactory,
    CrmUserFactory,
    NoteFactory,
    TaskFactory,
)
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory, RuleFactory
from tests.sync.highlevel_spec import assert_valid_crm_request

pytestmark = pytest.mark.django_db


def bodies(crm):
    return [
        (c.request.method, c.request.url, json.loads(c.request.body or "null")) for c in crm.calls
    ]


def test_the_validator_rejects_what_the_crm_would_reject():
    good = requests.Request(
        "POST",
        CRM + "/contacts/",
        json={"locationId": "L1"},
        headers={"Version": "2021-07-28", "Authorization": "Bearer t"},
    ).prepare()
    assert_valid_crm_request(good)
    for bad in (
        requests.Request(
            "POST",
            CRM + "/contacts/",
            json={"locationId": "L1"},
            headers={"Authorization": "Bearer t"},
        ),  # no Version
        requests.Request(
            "POST",
            CRM + "/contacts/",
            json={"firstName": "x"},
            headers={"Version": "2021-07-28", "Authorization": "Bearer t"},
        ),
        requests.Request(
            "GET",
            CRM + "/contacts/search/duplicate",
            headers={"Version": "2021-07-28", "Authorization": "Bearer t"},
        ),
        requests.Request("GET", CRM + "/nowhere", headers={"Version": "2021-07-28"}),
    ):
        with pytest.raises(Exception):  # noqa: B017 - any validation error will do
            assert_valid_crm_request(bad.prepare())


def test_task_create_update_completion_and_delete(crm, conn, workspace, linked_contact, actor):
    from contacts.services import task_delete, task_update

    crm.post(CRM + "/contacts/C1/tasks", json={"task": {"id": "T1"}}, status=201)
    crm.put(CRM + "/contacts/C1/tasks/T1/completed", json={"task": {"id": "T1"}})
    crm.put(CRM + "/contacts/C1/tasks/T1", json={"task": {"id": "T1"}})
    crm.delete(CRM + "/contacts/C1/tasks/T1", json={"succeded": True})
    task = TaskFactory(workspace=workspace, contact=linked_contact, title="Call")
    drain()
    task = task_update(task, actor=actor, data={"completed": True})[0]
    drain()
    task = task_update(task, actor=actor, data={"title": "Call back"})[0]
    drain()
    task_delete(task, actor=actor)
    drain()
    calls = bodies(crm)
    assert [(m, u.removeprefix(CRM)) for m, u, _ in calls] == [
        ("POST", "/contacts/C1/tasks"),
        ("PUT", "/contacts/C1/tasks/T1/completed"),
        ("PUT", "/contacts/C1/tasks/T1"),
        ("DELETE", "/contacts/C1/tasks/T1"),
    ]
    assert calls[0][2]["title"] == "Call" and calls[0][2]["completed"] is False
    assert calls[1][2] == {"completed": True}


def test_a_task_waits_for_its_contact(crm, conn, workspace):
    contact = ContactFactory(workspace=workspace)
    OutboundChange.objects.all().delete()
    TaskFactory(workspace=workspace, contact=contact)
    drain()
    row = OutboundChange.objects.get()
    assert row.status == ChangeStatus.RETRYING and "not in the CRM yet" in row.last_error
    assert len(crm.calls) == 0
    conn.refresh_from_db()  # waiting for the contact is not an error of the connection
    assert conn.health != "failing" and conn.last_error == ""


def test_note_and_appointment_round_trip(crm, conn, workspace, linked_contact, actor):
    from contacts.services import appointment_delete, note_update

    crm.post(CRM + "/contacts/C1/notes", json={"note": {"id": "N1"}}, status=201)
    crm.put(CRM + "/contacts/C1/notes/N1", json={"note": {"id": "N1"}})
    crm.post(CRM + "/calendars/events/appointments", json={"id": "E1"}, status=201)
    crm.delete(CRM + "/calendars/events/E1", json={"succeeded": True})
    note = NoteFactory(workspace=workspace, contact=linked_contact, body="Met at fair")
    appointment = AppointmentFactory(workspace=workspace, contact=linked_contact)
    drain()
    note_update(note, actor=actor, data={"body": "Met at the fair"})
    appointment_delete(appointment, actor=actor)
    drain()
    calls = {(m, u.removeprefix(CRM)): b for m, u, b in bodies(crm)}
    assert calls[("POST", "/contacts/C1/notes")] == {"body": "Met at fair"}
    assert calls[("PUT", "/contacts/C1/notes/N1")] == {"body": "Met at the fair"}
    created = calls[("POST", "/calendars/events/appointments")]
    assert created["contactId"] == "C1" and created["locationId"] == workspace.location_id
    assert created["calendarId"] == appointment.calendar_id
    assert ("DELETE", "/calendars/events/E1") in calls


def test_users_create_update_delete(crm, conn, workspace, actor):
    from contacts.services import user_delete, user_update

    crm.post(CRM + "/users/", json={"id": "U1"}, status=201)
    crm.put(CRM + "/users/U1", json={"id": "U1"})
    crm.delete(CRM + "/users/U1", json={"succeeded": True})
    user = CrmUserFactory(workspace=workspace, location_ids=[workspace.location_id])
    drain()
    user = user_update(user, actor=actor, data={"last_name": "Other"})[0]
    drain()
    user_delete(user, actor=actor)
    drain()
    created = json.loads(crm.calls[0].request.body)
    assert created["companyId"] == "comp1" and len(created["password"]) > 20
    assert [c.request.method for c in crm.calls] == ["POST", "PUT", "DELETE"]
    assert created["password"] not in "".join(a.request_excerpt for a in conn.attempts.all())


def test_workflows_are_cached_and_a_tag_adds_the_contact_to_a_workflow(
    crm, conn, workspace, linked_contact, actor
):
    from contacts.services import contact_update

    crm.get(CRM + "/workflows/", json={"workflows": [{"id": "W1", "name": "Welcome"}]})
    connector = connector_for(conn)
    assert connector.workflows() == [{"id": "W1", "name": "Welcome"}]
    assert connector.workflows()[0]["id"] == "W1"
    assert len(crm.calls) == 1
    RuleFactory(
        connection=conn,
        kind=Rule.Kind.ACTION,
        action=Rule.Action.ADD_TO_WORKFLOW,
        action_argument="W1",
        conditions={"field": "tags", "operator": "ANY_IN", "value": ["vip"]},
    )
    crm.put(CRM + "/contacts/C1", json={"succeded": True})
    crm.post(CRM + "/contacts/C1/workflow/W1", json={"succeded": True})
    contact_update(linked_contact, actor=actor, data={"tags": ["vip"]})
    drain()
    urls = [c.request.url.removeprefix(CRM) for c in crm.calls]
    assert "/contacts/C1/workflow/W1" in urls


def test_courses_import(crm, conn, workspace):
    crm.post(CRM + "/courses/courses-exporter/public/import", json={}, status=201)
    connector_for(conn).import_courses(
        {"products": [{"title": "Course", "description": "Intro", "categories": []}]}
    )
    body = json.loads(crm.calls[0].request.body)
    assert body["locationId"] == workspace.location_id and body["products"][0]["title"] == "Course"


def test_connection_test_reports_missing_scopes_and_errors(crm, workspace):
    conn = ConnectionFactory(workspace=workspace, scopes="contacts.readonly")
    crm.get(CRM + "/contacts/", json={"contacts": [], "meta": {}})
    result = connector_for(conn).test()
    assert (
        result.ok and "users.write" in result.missing_scopes and "missing scopes" in result.message
    )
    crm.replace("GET", CRM + "/contacts/", status=401, json={"message": "Invalid token"})
    result = connector_for(conn).test()
    assert not result.ok and "401" in result.message


def test_fetch_page_follows_the_contacts_cursor(crm, conn):
    page = [{"id": f"C{n}"} for n in range(100)]
    meta = {"startAfterId": "C99", "startAfter": 1700000000000}
    crm.get(CRM + "/contacts/", json={"contacts": page, "meta": meta})
    result = connector_for(conn).fetch_page("contact")
    assert len(result.items) == 100 and result.next_cursor["startAfterId"] == "C99"
    with pytest.raises(RemoteError, match="does not support listing notes"):
        connector_for(conn).fetch_page("note")


@pytest.mark.parametrize(
    "answer",
    [
        {"contacts": [], "meta": {"total": 0, "currentPage": 1}},  # an empty location
        {"contacts": [], "meta": {"total": 100, "currentPage": 2, "prevPage": 1}},  # after 100
        {"contacts": []},  # no meta at all: every field of it is optional in the spec
        {"contacts": [{"id": f"C{n}"} for n in range(100)], "meta": {"total": 100}},
        {"contacts": [{"id": "C1"}], "meta": {"startAfterId": "C1", "startAfter": 1}},  # short
    ],
)
def test_a_page_without_a_cursor_or_a_short_page_ends_the_contacts_listing(crm, conn, answer):
    crm.get(CRM + "/contacts/", json=answer)
    page = connector_for(conn).fetch_page("contact", {"startAfterId": "C99", "startAfter": 1})
    assert page.items == answer["contacts"] and page.next_cursor is None


def test_oauth_install_link_callback_and_concurrent_refresh(crm, workspace):
    conn = ConnectionFactory(
        workspace=workspace,
        location_id="",
        credentials={"client_id": "cid", "client_secret": "csecret"},
    )
    link = install_url(
        conn, "https://portal.example.com/oauth/highlevel/callback", ["contacts.write"], "n1"
    )
    query = parse_qs(urlsplit(link).query)
    assert query["client_id"] == ["cid"] and query["scope"] == ["contacts.write"]
    assert query["state"] == ["n1"]
    crm.post(
        CRM + "/oauth/token",
        json={
            "access_token": "A1",
            "refresh_token": "R1",
            "expires_in": 86399,
            "scope": "contacts.write",
            "locationId": workspace.location_id,
        },
    )
    exchange_code(conn, "code-1", "https://portal.example.com/oauth/highlevel/callback")
    conn.refresh_from_db()
    assert conn.credentials["access_token"] == "A1"
    assert conn.location_id == workspace.location_id
    # Two workers holding the same old token: the second uses the first one's refresh.
    first, second = (type(conn).objects.get(pk=conn.pk) for _ in range(2))
    crm.replace("POST", CRM + "/oauth/token", json={"access_token": "A2", "refresh_token": "R2"})
    assert refresh_tokens(first) and refresh_tokens(second)
    assert second.credentials["access_token"] == "A2"
    assert len([c for c in crm.calls if c.request.url.endswith("/oauth/token")]) == 2
    conn.refresh_from_db()
    assert conn.credentials["refresh_token"] == "R2"


def test_expired_access_token_is_refreshed_before_use(crm, workspace):
    conn = ConnectionFactory(
        workspace=workspace,
        credentials={
            "client_id": "c",
            "client_secret": "s",
            "access_token": "old",
            "refresh_token": "r",
            "expires_at": time.time() - 1,
        },
    )
    crm.post(CRM + "/oauth/token", json={"access_token": "fresh", "refresh_token": "r2"})
    assert connector_for(conn).auth_headers() == {"Authorization": "Bearer fresh"}
