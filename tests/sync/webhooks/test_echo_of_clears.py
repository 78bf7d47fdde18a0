"""Clearing fields and the CRM's echo: our cleared state, sent back by the CRM, is an echo."""

import json

import pytest

from contacts.models import Contact
from contacts.services import contact_update
from portal.models import AuditEntry
from sync.engine.push import drain
from sync.models import InboundEvent, InboundStatus, OutboundChange
from tests.factories import TEST_ACTOR, ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.webhooks.conftest import now_iso, post_crm

pytestmark = pytest.mark.django_db


@pytest.fixture
def cleared(crm, crm_connection):
    """A contact pushed with a phone and a company, then both cleared and pushed again."""
    crm.post(CRM + "/contacts/", json={"contact": {"id": "R1"}}, status=201)
    crm.put(CRM + "/contacts/R1", json={"succeded": True})
    contact = ContactFactory(
        workspace=crm_connection.workspace,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        phone="+15550100000",
        company_name="ACME",
    )
    drain()
    contact_update(contact, actor=TEST_ACTOR, data={"phone": "", "company_name": ""})
    drain()
    put = json.loads(crm.calls[-1].request.body)
    assert put["phone"] is None and put["companyName"] is None
    return Contact.objects.get(pk=contact.pk)


def echo(contact: Contact, **fields) -> dict:
    return {
        "type": "ContactUpdate",
        "locationId": contact.workspace.location_id,
        "id": "R1",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "dnd": False,
        "tags": [],
        "webhookId": f"echo-{sorted(fields)}",
        "timestamp": now_iso(),
        **fields,
    }


@pytest.mark.parametrize(
    "cleared_form",
    [{}, {"phone": None, "companyName": None}],
    ids=["fields-left-out", "fields-null"],
)
def test_the_crm_echo_of_cleared_fields_is_an_echo(client, run_inbound, cleared, cleared_form):
    audits, outbox = AuditEntry.objects.count(), OutboundChange.objects.count()
    body = echo(cleared, **cleared_form)
    assert post_crm(client, body).status_code == 200
    run_inbound()
    event = InboundEvent.objects.get(webhook_id=body["webhookId"])
    assert event.status == InboundStatus.ECHO, event.result
    assert AuditEntry.objects.count() == audits and OutboundChange.objects.count() == outbox
    contact = Contact.objects.get(pk=cleared.pk)
    assert contact.phone == "" and contact.company_name == ""


def test_a_phone_set_again_in_the_crm_is_not_an_echo(client, run_inbound, cleared):
    body = echo(cleared, phone="+15550100001")
    post_crm(client, body)
    run_inbound()
    assert InboundEvent.objects.get(webhook_id=body["webhookId"]).status == InboundStatus.PROCESSED
    assert Contact.objects.get(pk=cleared.pk).phone == "+15550100001"
