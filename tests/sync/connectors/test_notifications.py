"""The notification platform connector: subscribers keyed by our contact's public id."""

import json

import pytest

from contacts.services import contact_delete, contact_update
from sync.connectors import connector_for
from sync.engine.push import drain
from sync.models import ChangeStatus, Link, OutboundChange
from tests.factories import ContactFactory
from tests.sync.connectors.factories import NOTIFY, notifications_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def conn(workspace):
    return notifications_connection(workspace)


def make_contact(workspace):
    return ContactFactory(
        workspace=workspace,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        phone="+15550100000",
        custom_fields={"language": "en"},
    )


def test_create_update_delete_send_exact_requests(remote, conn, workspace, actor):
    remote.post(NOTIFY + "/v1/subscribers", json={"ok": True}, status=201)
    contact = make_contact(workspace)
    drain()
    create = remote.calls[0].request
    assert create.method == "POST" and create.url == NOTIFY + "/v1/subscribers"
    assert create.headers["Authorization"] == "ApiKey nk_live_secret"
    assert json.loads(create.body) == {
        "subscriberId": contact.public_id,
        "email": "ada@example.com",
        "phone": "+15550100000",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "locale": "en",
        "tags": [],
    }
    link = Link.objects.get(connection=conn, object_id=contact.pk)
    assert link.remote_id == contact.public_id

    item = f"{NOTIFY}/v1/subscribers/{contact.public_id}"
    remote.put(item, json={"ok": True})
    contact_update(contact, actor=actor, data={"first_name": "Augusta"})
    drain()
    update = remote.calls[1].request
    assert update.method == "PUT" and update.url == item
    assert json.loads(update.body)["firstName"] == "Augusta"

    remote.delete(item, status=204)
    contact_delete(contact, actor=actor)
    drain()
    assert (remote.calls[2].request.method, remote.calls[2].request.url) == ("DELETE", item)
    assert not OutboundChange.objects.exclude(status__in=[ChangeStatus.DONE]).exists()


def test_4xx_is_permanent(remote, conn, workspace):
    remote.post(NOTIFY + "/v1/subscribers", json={"message": "bad phone"}, status=422)
    make_contact(workspace)
    drain()
    row = OutboundChange.objects.get(connection=conn)
    assert row.status == ChangeStatus.FAILED and "bad phone" in row.last_error


@pytest.mark.parametrize("status", [500, 503, 429])
def test_5xx_and_429_are_retried(remote, conn, workspace, status):
    remote.post(NOTIFY + "/v1/subscribers", status=status, headers={"Retry-After": "7"})
    make_contact(workspace)
    drain()
    row = OutboundChange.objects.get(connection=conn)
    assert row.status == ChangeStatus.RETRYING and row.last_status_code == status


def test_unknown_outcome_looks_the_subscriber_up_before_creating(remote, conn, workspace):
    remote.post(NOTIFY + "/v1/subscribers", status=502)
    contact = make_contact(workspace)
    drain()
    remote.get(f"{NOTIFY}/v1/subscribers/{contact.public_id}", json={"subscriberId": "x"})
    remote.put(f"{NOTIFY}/v1/subscribers/{contact.public_id}", json={})
    row = OutboundChange.objects.get(connection=conn)
    OutboundChange.objects.filter(pk=row.pk).update(available_at=row.created_at)
    drain()
    assert [c.request.method for c in remote.calls] == ["POST", "GET", "PUT"]


def test_bulk_create_sends_at_most_500_per_call_and_links_them(remote, conn, workspace):
    remote.post(NOTIFY + "/v1/subscribers/bulk", json={"ok": True})
    conn.contacts_direction = "off"  # created without pushes; the bulk call is the backfill
    conn.save()
    contacts = [ContactFactory(workspace=workspace) for _ in range(501)]
    assert connector_for(conn).create_many(contacts) == 501
    sizes = [len(json.loads(c.request.body)["subscribers"]) for c in remote.calls]
    assert sizes == [500, 1]
    assert Link.objects.filter(connection=conn, remote_id=contacts[-1].public_id).exists()


def test_only_contacts_are_subscribers(conn, workspace):
    task_like = ContactFactory(workspace=workspace)
    with pytest.raises(Exception, match="only contacts are subscribers"):
        connector_for(conn).create_remote("task", {}, task_like)
