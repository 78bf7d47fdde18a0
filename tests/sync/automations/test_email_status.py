"""E-mail delivery statuses: received at a secret URL per connection, stored once, linked to
the contact, shown in its timeline, and a trigger ("e-mail bounced" → tag the CRM contact)."""

import json

import pytest
from django.test import TestCase

from sync.automations.presets import create_from_template
from sync.console.timeline import timeline
from sync.models import AutomationRun, InboundEvent, InboundStatus, Link, Mode
from tests.factories import ContactFactory
from tests.sync.automations.conftest import CRM, body, sent

pytestmark = pytest.mark.django_db
URL = "/webhooks/email/mailer/tok-123456/"


def post(client, payload, url=URL):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, json.dumps(payload), content_type="application/json")


@pytest.fixture
def contact(workspace, crm_conn):
    contact = ContactFactory(workspace=workspace, email="ada@example.com")
    Link.objects.create(connection=crm_conn, object_type="contact", object_id=contact.pk,
                        remote_id="C-1")  # fmt: skip
    return contact


def test_a_bounce_is_stored_once_linked_and_shown_in_the_timeline(client, mailer, contact):
    status = {"event": "bounced", "id": "d-1", "email": "x@other.example",
              "meta": {"contact": contact.public_id}}  # fmt: skip
    answer = post(client, status)
    assert answer.status_code == 200 and answer.json()["stored"] == 1
    assert post(client, status).json()["stored"] == 0  # a repeated delivery
    event = InboundEvent.objects.get()
    assert event.event_type == "email.bounced" and event.status == InboundStatus.PROCESSED
    assert (event.object_type, event.remote_id) == ("contact", contact.public_id)
    entries, _ = timeline(contact)
    assert any(e.title == "Webhook email.bounced" for e in entries)


def test_statuses_find_their_contact_by_user_id_or_address(client, mailer, contact, workspace):
    Link.objects.create(connection=mailer, object_type="contact", object_id=contact.pk,
                        remote_id="u-42")  # fmt: skip
    other = ContactFactory(workspace=workspace, email="grace@example.com")
    post(client, [{"status": "delivered", "user_id": "u-42", "id": 7},
                  {"type": "opened", "email": "Grace@Example.com"}])  # fmt: skip
    found = dict(InboundEvent.objects.values_list("event_type", "remote_id"))
    assert found == {"email.delivered": contact.public_id, "email.opened": other.public_id}


def test_a_wrong_token_or_bad_body_is_refused_and_stores_nothing(client, mailer):
    assert (
        post(client, {"event": "bounced"}, url="/webhooks/email/mailer/wrong/").status_code == 404
    )
    assert (
        post(client, {"event": "bounced"}, url="/webhooks/email/nope/tok-123456/").status_code
        == 404
    )
    refused = post(client, {"event": "<script>"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_body"
    raw = client.post(URL, b"{not json", content_type="application/json")
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
    assert not InboundEvent.objects.exists()


def test_a_bounce_tags_the_crm_contact(client, remote, workspace, crm_conn, mailer, contact,
                                       run_steps):  # fmt: skip
    automation = create_from_template(
        "email_bounced_tag", workspace=workspace, connections={"crm": crm_conn, "email": mailer}
    )
    automation.mode = Mode.ON
    automation.save()
    remote.post(CRM + "/contacts/C-1/tags", json={"tags": ["email-bounced"]})
    post(client, {"event": "bounced", "id": "d-9", "meta": {"contact": contact.public_id}})
    post(client, {"event": "delivered", "id": "d-8", "meta": {"contact": contact.public_id}})
    run_steps()
    (tagging,) = sent(remote, "POST", CRM)
    assert body(tagging) == {"tags": ["email-bounced"]}
    run = AutomationRun.objects.get()
    assert run.object_id == contact.pk and run.event_key.startswith("inbound:")
