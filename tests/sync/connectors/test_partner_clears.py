"""Partners are told of cleared fields too: an update sends them as JSON null."""

import json

import pytest

from contacts.services import contact_update
from sync.engine.push import drain
from tests.factories import ContactFactory
from tests.sync.connectors.factories import NOTIFY, notifications_connection

pytestmark = pytest.mark.django_db


def test_a_cleared_phone_reaches_the_partner_as_null(remote, workspace, actor):
    notifications_connection(workspace)
    remote.post(NOTIFY + "/v1/subscribers", json={"ok": True}, status=201)
    contact = ContactFactory(workspace=workspace, email="ada@example.com", phone="+15550100000")
    drain()
    assert "phone" in json.loads(remote.calls[0].request.body)
    remote.put(f"{NOTIFY}/v1/subscribers/{contact.public_id}", json={"ok": True})
    contact_update(contact, actor=actor, data={"phone": "", "first_name": "Augusta"})
    drain()
    update = json.loads(remote.calls[1].request.body)
    assert update["phone"] is None and update["firstName"] == "Augusta"
    assert "lastName" in update and update["email"] == "ada@example.com"
