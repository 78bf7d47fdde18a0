"""End to end through the push engine: the CRM and two partners, no echo to the origin."""

import json
from urllib.parse import urlsplit

import pytest
from standardwebhooks import Webhook

from contacts.services import contact_create, contact_update
from portal.actors import Actor, ActorKind
from sync.engine.push import drain
from sync.models import ChangeStatus, OutboundChange
from tests.sync.connectors.factories import (
    HOOK_SECRET,
    HOOK_URL,
    NOTIFY,
    notifications_connection,
    webhook_connection,
)
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory
from tests.sync.highlevel_spec import assert_valid_crm_request

pytestmark = pytest.mark.django_db
API_KEY_ACTOR = Actor(ActorKind.API_KEY, "partner key pk_live", "1", "api")


def calls_to(remote, base: str) -> list:
    host = urlsplit(base).netloc
    return [c.request for c in remote.calls if urlsplit(c.request.url).netloc == host]


def test_a_contact_reaches_everyone_and_a_partner_update_skips_its_origin(remote, workspace):
    crm = ConnectionFactory(workspace=workspace)
    notify = notifications_connection(workspace)
    hooks = webhook_connection(workspace)
    remote.post(CRM + "/contacts/", json={"contact": {"id": "R1"}}, status=201)
    remote.put(CRM + "/contacts/R1", json={"contact": {"id": "R1"}})
    remote.post(NOTIFY + "/v1/subscribers", json={}, status=201)
    remote.post(HOOK_URL, status=204)

    contact = contact_create(
        workspace=workspace,
        actor=API_KEY_ACTOR,
        data={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
    )
    assert drain()["left"] == 0
    assert [r.method for r in calls_to(remote, CRM)] == ["POST"]
    assert json.loads(calls_to(remote, NOTIFY)[0].body)["subscriberId"] == contact.public_id
    created = calls_to(remote, HOOK_URL)[0]
    event = Webhook(HOOK_SECRET).verify(created.body.decode(), dict(created.headers))
    assert event["type"] == "contact.created" and event["data"]["id"] == contact.public_id

    # The notification platform tells us about a change: it must not get it back.
    contact_update(contact, actor=Actor.connection(notify), data={"first_name": "Augusta"})
    rows = OutboundChange.objects.filter(audit_action="update")
    assert {row.connection_id for row in rows} == {crm.pk, hooks.pk}
    drain()
    crm_update = calls_to(remote, CRM)[-1]
    assert crm_update.method == "PUT" and json.loads(crm_update.body)["firstName"] == "Augusta"
    updated = calls_to(remote, HOOK_URL)[-1]
    event = Webhook(HOOK_SECRET).verify(updated.body.decode(), dict(updated.headers))
    assert event["type"] == "contact.updated" and event["data"]["first_name"] == "Augusta"
    assert [r.method for r in calls_to(remote, NOTIFY)] == ["POST"]  # nothing sent back
    assert not OutboundChange.objects.exclude(status=ChangeStatus.DONE).exists()
    for request in calls_to(remote, CRM):
        assert_valid_crm_request(request)
