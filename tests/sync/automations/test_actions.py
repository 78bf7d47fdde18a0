"""Each connector's automation actions: the exact requests (CRM ones validated against its
OpenAPI files by the `remote` fixture), idempotency keys, and outputs."""

import json

import pytest
from django.test import TestCase

from sync.automations.context import record_context
from sync.automations.runner import drain
from sync.automations.triggers import start_run
from sync.models import Automation, AutomationAction, Mode, StepStatus, Trigger
from sync.transport.standard_webhooks import verify as verify_standard
from tests.factories import TEST_ACTOR, ContactFactory
from tests.sync.automations.conftest import CRM, body
from tests.sync.connectors.factories import (
    HOOK_SECRET,
    HOOK_URL,
    NOTIFY,
    notifications_connection,
    webhook_connection,
)
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def run(connection, operation, inputs, contact, key="e1"):
    automation = Automation.objects.create(
        workspace=connection.workspace,
        name=operation,
        mode=Mode.ON,
        trigger=Trigger.RECORD_UPDATED,
        object_type="contact",
    )
    AutomationAction.objects.create(
        automation=automation, connection=connection, operation=operation, inputs=inputs
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        context = record_context(contact, "update", {}, TEST_ACTOR)
        start_run(automation, key, key, context, obj=contact)
        drain()
    return automation.runs.get().steps.get()


@pytest.fixture
def contact(workspace):
    return ContactFactory(
        workspace=workspace,
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        tags=["vip"],
    )


@pytest.mark.parametrize(
    ("operation", "inputs", "method", "path"),
    [
        (
            "note.create",
            {"contactId": "C-1", "body": "Bought {{ contact.tags | first }}"},
            "POST",
            "/contacts/C-1/notes",
        ),
        ("tag.add", {"contactId": "C-1", "tags": "a, b"}, "POST", "/contacts/C-1/tags"),
        (
            "tag.remove",
            {"contactId": "C-1", "tags": ["{{ contact.tags | first }}"]},
            "DELETE",
            "/contacts/C-1/tags",
        ),
        (
            "workflow.remove",
            {"contactId": "C-1", "workflowId": "W-1"},
            "DELETE",
            "/contacts/C-1/workflow/W-1",
        ),
        (
            "contact.update",
            {
                "contactId": "C-1",
                "firstName": "{{ contact.first_name }}",
                "tags": "{{ contact.tags }}",
            },
            "PUT",
            "/contacts/C-1",
        ),
        ("contact.delete", {"contactId": "C-1"}, "DELETE", "/contacts/C-1"),
        (
            "user.update",
            {"userId": "U-1", "lastName": "{{ contact.last_name | upper }}"},
            "PUT",
            "/users/U-1",
        ),
        (
            "appointment.book",
            {
                "contactId": "C-1",
                "calendarId": "cal-1",
                "startTime": "2026-12-01T10:00:00Z",
                "title": "Demo",
            },
            "POST",
            "/calendars/events/appointments",
        ),
    ],
)
def test_crm_actions_send_spec_valid_requests(
    remote, crm_conn, contact, operation, inputs, method, path
):
    remote.add(method, CRM + path, json={"id": "X-1", "note": {"id": "N-1"}})
    step = run(crm_conn, operation, inputs, contact)
    assert step.status == StepStatus.DONE, step.last_error
    (request,) = remote.calls
    assert (request.request.method, request.request.url) == (method, CRM + path)
    if operation == "tag.add":
        assert body(request.request) == {"tags": ["a", "b"]}
    if operation == "tag.remove":
        assert body(request.request) == {"tags": ["vip"]}
    if operation == "user.update":
        assert body(request.request) == {"lastName": "LOVELACE"}
    if operation == "note.create":
        assert body(request.request) == {"body": "Bought vip"} and step.output == {"id": "N-1"}
    if operation == "appointment.book":
        sent_body = body(request.request)
        assert sent_body["locationId"] == crm_conn.location_id and sent_body["contactId"] == "C-1"


def test_a_crm_action_for_a_contact_not_in_the_crm_yet_waits(remote, crm_conn, contact):
    step = run(crm_conn, "tag.add", {"contactId": "{{ contact.crm_id }}", "tags": "x"}, contact)
    assert step.status == StepStatus.RETRYING and "not in the CRM yet" in step.last_error
    assert len(remote.calls) == 0


def test_notification_event_uses_the_idempotency_key_as_transaction_id(remote, workspace, contact):
    conn = notifications_connection(workspace)
    remote.post(NOTIFY + "/v1/events/trigger", json={"data": {"acknowledged": True}})
    inputs = {
        "name": "welcome",
        "subscriberId": "{{ contact.id }}",
        "email": "{{ contact.email }}",
        "payload": {"first": "{{ contact.first_name }}"},
    }
    step = run(conn, "event.trigger", inputs, contact)
    sent_body = body(remote.calls[0].request)
    assert sent_body["transactionId"] == step.idempotency_key
    assert sent_body["to"] == {"subscriberId": contact.public_id, "email": "ada@example.com"}
    assert sent_body["payload"] == {"first": "Ada"}
    assert remote.calls[0].request.headers["Authorization"] == "ApiKey nk_live_secret"


def test_notification_subscribers(remote, workspace, contact):
    conn = notifications_connection(workspace)
    remote.post(NOTIFY + "/v1/subscribers", json={})
    remote.put(NOTIFY + f"/v1/subscribers/{contact.public_id}", json={})
    remote.post(NOTIFY + "/v1/subscribers/bulk", json={})
    run(
        conn,
        "subscriber.create",
        {"subscriberId": "{{ contact.id }}", "email": "{{ contact.email }}"},
        contact,
        key="k1",
    )
    run(
        conn,
        "subscriber.update",
        {"subscriberId": "{{ contact.id }}", "locale": "en"},
        contact,
        key="k2",
    )
    many = [{"subscriberId": f"s{i}"} for i in range(3)]
    run(conn, "subscriber.bulk_create", {"subscribers": many}, contact, key="k3")
    requests = [(c.request.method, c.request.url.removeprefix(NOTIFY)) for c in remote.calls]
    assert requests == [
        ("POST", "/v1/subscribers"),
        ("PUT", f"/v1/subscribers/{contact.public_id}"),
        ("POST", "/v1/subscribers/bulk"),
    ]
    assert body(remote.calls[1].request) == {"locale": "en"}
    assert len(body(remote.calls[2].request)["subscribers"]) == 3


def test_webhook_event_is_signed_with_a_stable_id(remote, workspace, contact):
    conn = webhook_connection(workspace)
    remote.post(HOOK_URL, json={})
    step = run(
        conn, "event.send", {"type": "customer.vip", "data": {"id": "{{ contact.id }}"}}, contact
    )
    request = remote.calls[0].request
    assert request.headers["webhook-id"] == f"msg_{step.idempotency_key}"
    payload = json.loads(request.body)
    assert payload["type"] == "customer.vip" and payload["data"] == {"id": contact.public_id}
    assert verify_standard(
        [HOOK_SECRET], request.headers, request.body
    ) == step.idempotency_key.join(["msg_", ""])


def test_rest_partner_runs_a_configured_operation(remote, workspace, contact):
    conn = ConnectionFactory(
        workspace=workspace,
        provider="rest",
        name="Store",
        slug="store2",
        base_url="https://store.example",
        credentials={"token": "t"},
        scopes="",
        options={
            "auth": {"type": "bearer"},
            "objects": {
                "contact": {
                    "create": {
                        "method": "POST",
                        "path": "/customers",
                        "id_path": "data.id",
                        "defaults": {"status": "new"},
                        "body_key": "customer",
                    }
                }
            },
        },
    )
    remote.post("https://store.example/customers", json={"data": {"id": 55}})
    step = run(conn, "contact.create", {"body": {"email": "{{ contact.email }}"}}, contact)
    assert body(remote.calls[0].request) == {
        "customer": {"status": "new", "email": "ada@example.com"}
    }
    assert step.output["id"] == 55
    missing = run(conn, "task.create", {"body": {}}, contact, key="e2")
    assert missing.status == StepStatus.FAILED and "no path configured" in missing.last_error
