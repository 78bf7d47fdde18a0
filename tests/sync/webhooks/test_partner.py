"""Partner webhooks (/webhooks/in/<slug>/): Standard Webhooks, the API's representation."""

import base64
import json
import time
import uuid
from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from contacts.models import Contact, Task
from sync.models import InboundEvent, InboundStatus, Link, OutboundChange
from sync.transport.standard_webhooks import sign
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
OLD_SECRET = "whsec_" + base64.b64encode(b"old-secret-0123456789abcdefghijk").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"new-secret-0123456789abcdefghijk").decode()


@pytest.fixture
def shop(crm_connection):
    return ConnectionFactory(
        workspace=crm_connection.workspace,
        provider="webhook",
        name="Shop",
        slug="shop",
        credentials={"webhook_secrets": [NEW_SECRET, OLD_SECRET]},
    )


@pytest.fixture
def send(client, run_inbound):
    def send(event_type, data, *, secret=NEW_SECRET, slug="shop", msg_id=None, ts_offset=0):
        body = json.dumps({"type": event_type, "data": data}).encode()
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        ts = int(time.time()) + ts_offset
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = client.generic(
                "POST",
                f"/webhooks/in/{slug}/",
                body,
                content_type="application/json",
                HTTP_WEBHOOK_ID=msg_id,
                HTTP_WEBHOOK_TIMESTAMP=str(ts),
                HTTP_WEBHOOK_SIGNATURE=sign(secret, msg_id, ts, body),
            )
        run_inbound()
        return response

    return send


def test_a_partner_update_applies_and_fans_out_to_the_crm_only(send, shop, crm_connection):
    earlier = timezone.now() - timedelta(minutes=1)
    contact = ContactFactory(workspace=shop.workspace, first_name="Old", source_updated_at=earlier)
    OutboundChange.objects.all().delete()
    response = send("contact.updated", {"id": contact.public_id, "first_name": "New"})
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.first_name == "New"
    assert [c.connection for c in OutboundChange.objects.all()] == [crm_connection]
    assert InboundEvent.objects.get().status == InboundStatus.PROCESSED


def test_a_partner_record_with_its_own_id_is_created_then_updated_and_deleted(send, shop):
    shop.inbound_permissions = {
        "contact": {"operations": ["create", "update", "delete"], "fields": "*"},
        "task": {"operations": ["create"], "fields": "*"},
    }
    shop.save()
    send("contact.created", {"id": "p-1", "email": "Buyer@Example.com", "first_name": "B"})
    contact = Contact.objects.get()
    assert contact.email == "Buyer@example.com"
    assert Link.objects.get(connection=shop, object_type="contact").remote_id == "p-1"
    send("contact.updated", {"id": "p-1", "first_name": "Buyer"})
    send("task.created", {"id": "pt-1", "title": "Ship", "contact": contact.public_id})
    assert Task.objects.get().contact == contact
    send("contact.deleted", {"id": "p-1"})
    contact.refresh_from_db()
    assert contact.is_deleted and contact.first_name == "Buyer"


def test_the_old_secret_still_works_during_rotation(send, shop):
    assert (
        send("contact.created", {"id": "p-2", "first_name": "R"}, secret=OLD_SECRET).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"secret": "whsec_" + base64.b64encode(b"x" * 32).decode()}, 401, "invalid_signature"),
        ({"ts_offset": -3600}, 401, "timestamp_out_of_tolerance"),
        ({"ts_offset": 3600}, 401, "timestamp_out_of_tolerance"),
        ({"slug": "nobody"}, 404, "not_found"),
    ],
)
def test_partner_rejections(send, shop, kwargs, status, code):
    response = send("contact.created", {"id": "p-3"}, **kwargs)
    assert response.status_code == status and response.json()["error"]["code"] == code
    # Nothing is stored to be applied; a refusal by a known connection is recorded (no body).
    refused = list(InboundEvent.objects.values_list("status", "result", "body"))
    assert refused == ([("refused", f"refused: {code}", "")] if status == 401 else [])


def test_a_connection_without_secret_refuses_everything(send, shop):
    shop.credentials = {}
    shop.save()
    assert send("contact.created", {"id": "p-4"}).status_code == 401


def test_partner_duplicates_unknown_types_and_bad_records(send, shop):
    assert send("contact.created", {"id": "p-5"}, msg_id="msg_same").status_code == 200
    again = send("contact.created", {"id": "p-5"}, msg_id="msg_same")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert send("invoice.paid", {"id": "i-1"}).status_code == 202
    send("contact.updated", {"id": "ct_doesnotexist0000000", "first_name": "X"})
    failed = InboundEvent.objects.get(status=InboundStatus.FAILED)
    assert "No contact" in failed.error
    assert InboundEvent.objects.filter(status=InboundStatus.IGNORED).count() == 1
