"""Partner webhooks in the partner's own format (issue 14, item 4): where the event type, record
id and record are in the body, and an HMAC-SHA256 of the raw body in a named header."""

import base64
import hashlib
import hmac
import json

import pytest
from django.test import TestCase

from contacts.models import Contact
from contacts.services import contact_update
from sandbox.standins.partner import MAPPINGS, PartnerStandIn, connection_options
from sync.engine.push import drain
from sync.inbound.partner_formats import WebhookFormat, format_errors
from sync.models import DeliveryAttempt, FieldMapping, InboundEvent, Link
from sync.transport import hmac_signatures
from sync.transport.webhook_checks import SignatureError
from tests.factories import TEST_ACTOR
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
SECRET, OLD_SECRET = "partner-signing-key-2", "partner-signing-key-1"
URL = "/webhooks/in/partner/"
OLD_PHONE, NEW_PHONE = "+15550100001", "+15550100002"


@pytest.fixture
def partner_conn(workspace):
    conn = ConnectionFactory(
        workspace=workspace, provider="rest", name="Partner", slug="partner",
        base_url="https://partner.example", credentials={"api_key": "k",
        "webhook_secrets": [SECRET, OLD_SECRET]}, options=connection_options(),
        contacts_direction="both", users_direction="off", tasks_direction="off",
        notes_direction="off", appointments_direction="off",
    )  # fmt: skip
    for position, row in enumerate(MAPPINGS):
        FieldMapping.objects.create(
            connection=conn, object_type="contact", position=position, **row
        )
    return conn


@pytest.fixture
def deliver(client, run_inbound):
    def deliver(body: bytes, headers: dict[str, str], url: str = URL):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        extra.pop("HTTP_CONTENT_TYPE", None)
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = client.generic("POST", url, body, content_type="application/json", **extra)
        run_inbound()
        return response

    return deliver


RECORD = {
    "id": "p7", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
    "phone": "+15550100001", "city": "London", "updatedAt": "2026-01-02T03:04:05.000+00:00",
}  # fmt: skip


def test_a_signed_delivery_in_the_partners_format_is_applied(deliver, partner_conn):
    body, headers = PartnerStandIn.signed_delivery(SECRET, RECORD, "contact.created")
    response = deliver(body, headers)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    contact = Contact.objects.get()
    assert (contact.first_name, contact.email, contact.city) == ("Ada", "ada@example.com", "London")
    assert Link.objects.get(connection=partner_conn).remote_id == "p7"
    event = InboundEvent.objects.get()
    assert (event.status, event.signature_scheme, event.event_type) == (
        "processed",
        "hmac-sha256",
        "contact.created",
    )
    assert event.remote_id == "p7" and event.object_type == "contact"

    changed = {**RECORD, "phone": "+15550100002", "updatedAt": "2026-01-03T00:00:00+00:00"}
    deliver(*PartnerStandIn.signed_delivery(OLD_SECRET, changed))  # rotation: the old one too
    contact.refresh_from_db()
    assert contact.phone == "+15550100002" and Contact.objects.count() == 1

    deleted = PartnerStandIn.signed_delivery(SECRET, {"id": "p7"}, "contact.deleted")
    deliver(*deleted)  # partners may create and update contacts unless granted more
    contact.refresh_from_db()
    assert not contact.is_deleted
    refused = InboundEvent.objects.get(event_type="contact.deleted")
    assert (refused.status, refused.result) == (
        "refused",
        "refused: this connection may not delete contacts",
    )
    partner_conn.inbound_permissions = {"contact": {"operations": ["delete"], "fields": "*"}}
    partner_conn.save()
    # Another body: an identical one would be the same delivery (deduplicated by its digest).
    deliver(*PartnerStandIn.signed_delivery(SECRET, {"id": "p7", "gone": True}, "contact.deleted"))
    contact.refresh_from_db()
    assert contact.is_deleted


def test_the_same_delivery_twice_is_applied_once(deliver, partner_conn):
    body, headers = PartnerStandIn.signed_delivery(SECRET, RECORD, "contact.created")
    deliver(body, headers)
    again = deliver(body, headers)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1 and Contact.objects.count() == 1


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda body, h: (body, {**h, "X-Partner-Signature": "sha256=" + "0" * 64}),
         "invalid_signature"),
        (lambda body, h: (body.replace(b"London", b"Paris!"), h), "invalid_signature"),
        (lambda body, h: (body, {"Content-Type": "application/json"}), "missing_signature"),
        (lambda body, h: (body, {**h, "X-Partner-Signature": h["X-Partner-Signature"][7:]}),
         "invalid_signature"),  # the prefix is part of the scheme
        (lambda body, h: PartnerStandIn.signed_delivery("not-the-key", RECORD),
         "invalid_signature"),
    ],
)  # fmt: skip
def test_a_wrong_signature_is_refused_and_recorded(deliver, partner_conn, tamper, code):
    body, headers = tamper(*PartnerStandIn.signed_delivery(SECRET, RECORD))
    response = deliver(body, headers)
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and set(error) == {"code", "message", "details"}
    assert not Contact.objects.exists() and not Link.objects.exists()
    refusal = InboundEvent.objects.get()  # visible under Inbound events, never applied
    assert (refusal.status, refusal.result, refusal.body) == ("refused", f"refused: {code}", "")
    assert refusal.connection == partner_conn and refusal.signature_scheme == "hmac-sha256"


def test_a_connection_without_a_signing_key_refuses(deliver, partner_conn):
    partner_conn.credentials = {"api_key": "k"}
    partner_conn.save()
    response = deliver(*PartnerStandIn.signed_delivery(SECRET, RECORD))
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_configured"
    assert InboundEvent.objects.get().status == "refused"


def test_the_stores_base64_signature_and_an_event_it_does_not_map(deliver, partner_conn):
    """The store signs X-SENDOWL-HMAC-SHA256 = base64 HMAC-SHA256 of the body; an order is no
    mirror record: it is stored (automations can start from it), not applied."""
    partner_conn.options = {**partner_conn.options, "webhooks": {
        "signature": {"scheme": "hmac-sha256", "header": "X-SENDOWL-HMAC-SHA256",
                      "encoding": "base64"},
        "event_type": "order.completed", "record_path": "order", "record_id_path": "order.id",
    }}  # fmt: skip
    partner_conn.save()
    body = json.dumps({"order": {"id": 42, "buyer_email": "ada@example.com"}}).encode()
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    response = deliver(body, {"X-SENDOWL-HMAC-SHA256": digest})
    assert response.status_code == 202 and response.json()["reason"] == "unknown event type"
    event = InboundEvent.objects.get()
    assert (event.event_type, event.status, event.signature_scheme) == (
        "order.completed",
        "ignored",
        "hmac-sha256",
    )
    assert not Contact.objects.exists()


# --- the pure parts -------------------------------------------------------------------------


def test_hmac_signatures_hex_base64_prefix_and_rotation():
    body = b'{"a": 1}'
    hexed = hmac_signatures.sign("k2", body, "hex", "sha256=")
    assert hexed == "sha256=" + hmac.new(b"k2", body, hashlib.sha256).hexdigest()
    upper = "sha256=" + hexed.removeprefix("sha256=").upper()
    hmac_signatures.verify(["k1", "k2"], upper, body, "hex", "sha256=")
    hmac_signatures.verify(["k1", "k2"], hexed, body, "hex", "sha256=")
    based = hmac_signatures.sign("k1", body, "base64")
    hmac_signatures.verify(["k1"], based, body, "base64")
    with pytest.raises(SignatureError, match="does not match"):
        hmac_signatures.verify(["k3"], hexed, body, "hex", "sha256=")
    with pytest.raises(SignatureError, match="no signature"):
        hmac_signatures.verify(["k1"], "", body)


def test_the_format_reads_its_paths_and_maps_event_types():
    webhook_format = WebhookFormat(connection_options()["webhooks"])
    payload = {"event": "contact.deleted", "data": {"id": 12, "updatedAt": "2026-01-01T00:00:00Z"}}
    parsed = webhook_format.parse(payload, None)
    assert (parsed.object_type, parsed.operation, parsed.remote_id) == ("contact", "delete", "12")
    assert parsed.source_updated_at.isoformat() == "2026-01-01T00:00:00+00:00"
    assert webhook_format.knows("contact.created") and not webhook_format.knows("order.paid")
    assert not WebhookFormat(None).own and WebhookFormat(None).scheme == "standard-webhooks"


def test_format_errors_are_clear():
    assert format_errors(None) == [] and format_errors(connection_options()["webhooks"]) == []
    assert format_errors({"signature": {"scheme": "md5"}}) == [
        "webhooks.signature.scheme: one of standard-webhooks, hmac-sha256."
    ]
    assert format_errors({"signature": {"scheme": "hmac-sha256"}}) == [
        "webhooks.signature.header: the name of the header carrying the signature."
    ]
    assert format_errors({"events": {"x.y": {"object_type": "order", "operation": "upsert"}}})[
        0
    ].startswith("webhooks.events.x.y: object_type is one of")
    assert format_errors({"record_path": 3}) == [
        "webhooks.record_path: enter a dotted path (text)."
    ]


# --- concurrent edits: the phone changed at the partner, the city here ----------------------


@pytest.fixture
def live_partner(settings, partner_conn):
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]  # the stand-in on loopback, allowed explicitly
    standin = PartnerStandIn("k").start()
    partner_conn.base_url = standin.base_url
    partner_conn.save()
    yield standin
    standin.stop()


@pytest.mark.parametrize("webhook", ["late", "first"])
def test_concurrent_edits_in_the_partners_format_both_survive(deliver, live_partner, webhook):
    record = live_partner.add(firstName="Ada", email="ada@example.com", phone=OLD_PHONE, city="Old")
    deliver(*PartnerStandIn.signed_delivery(SECRET, record, "contact.created"))
    changed = live_partner.change(record["id"], phone=NEW_PHONE)  # a user at the partner
    contact_update(Contact.objects.get(), actor=TEST_ACTOR, data={"city": "Newcity"})
    if webhook == "late":
        drain()
    deliver(*PartnerStandIn.signed_delivery(SECRET, changed))
    drain()
    contact = Contact.objects.get()
    at_partner = live_partner.contacts[record["id"]]
    assert (contact.phone, contact.city) == (NEW_PHONE, "Newcity")
    assert (at_partner["phone"], at_partner["city"]) == (NEW_PHONE, "Newcity")
    patches = DeliveryAttempt.objects.filter(method="PATCH")
    sent = patches.get().request_excerpt  # one PATCH, with only what the portal changed
    assert "Newcity" in sent and "phone" not in sent and "Ada" not in sent
