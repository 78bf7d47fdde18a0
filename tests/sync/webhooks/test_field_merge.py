"""Concurrent edits of different fields survive on both sides (invariant 6; issue 14, item 7).

A user changes a contact's phone in the remote while an operator changes its city in the
portal. Whether the remote's notification arrives late (after our push), never (repaired by
reconcile) or first (before our push), both sides end with the new phone and the new city:
the push sends only the city, and the inbound change takes only the phone. The remotes are
small fakes holding a record's state; every request to the CRM is validated against its
OpenAPI files (the `crm` fixture).
"""

import base64
import json
import time
import uuid
from datetime import timedelta

import pytest
import responses
from django.test import TestCase
from django.utils import timezone

from contacts.models import Contact
from contacts.services import contact_update
from ops.reconcile import Reconciler
from sync.engine.push import drain
from sync.models import FieldMapping
from sync.transport.standard_webhooks import sign
from tests.factories import TEST_ACTOR
from tests.sync.connectors.conftest import dns  # noqa: F401 (partner host names resolve)
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory
from tests.sync.webhooks.conftest import LOCATION, now_iso, post_crm

pytestmark = pytest.mark.django_db
OLD_PHONE, NEW_PHONE = "+15550100001", "+15550100002"
CREATED = timezone.now() - timedelta(hours=1)
PHONE_CHANGED = timezone.now() - timedelta(minutes=30)


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class FakeRemote:
    """One record's state at a remote: PUT/PATCH bodies are merged into it, as they would be."""

    def __init__(self, mock, record: dict) -> None:
        self.mock, self.state, self.bodies = mock, dict(record), []

    def route(self, method: str, url: str) -> None:
        self.mock.add_callback(method, url, callback=self._update)

    def _update(self, request):
        body = json.loads(request.body)
        self.bodies.append(body)
        self.state.update(body, dateUpdated=iso(timezone.now()))
        return 200, {}, json.dumps({"succeded": True, "contact": self.state})

    def change_phone(self) -> dict:
        """A user changes the phone over there; returns the record as then notified."""
        self.state.update(phone=NEW_PHONE, dateUpdated=iso(PHONE_CHANGED))
        return dict(self.state)


# --- the CRM ------------------------------------------------------------------------------


@pytest.fixture
def crm_record(client, run_inbound, crm, crm_connection):
    """A contact that came from the CRM (remote id R1); the CRM fake holds its state."""
    record = {
        "id": "R1", "locationId": LOCATION, "firstName": "Ada", "email": "ada@example.com",
        "phone": OLD_PHONE, "city": "Oldtown", "dateAdded": iso(CREATED),
        "dateUpdated": iso(CREATED),
    }  # fmt: skip
    assert (
        post_crm(client, {"type": "ContactCreate", **webhook_envelope(), **record}).status_code
        == 200
    )
    run_inbound()
    remote = FakeRemote(crm, record)
    remote.route("PUT", CRM + "/contacts/R1")
    return remote


def webhook_envelope() -> dict:
    return {"webhookId": str(uuid.uuid4()), "timestamp": now_iso()}


@pytest.fixture
def notify_crm(client, run_inbound):
    def notify(record: dict) -> list[str]:
        body = {"type": "ContactUpdate", **webhook_envelope(), **record}
        assert post_crm(client, body).status_code == 200
        return run_inbound()

    return notify


def edit_city_here() -> Contact:
    contact, _changed = contact_update(
        Contact.objects.get(), actor=TEST_ACTOR, data={"city": "Newcity"}
    )
    return contact


def assert_both_sides_have_both_changes(remote: FakeRemote) -> None:
    drain()  # anything still queued goes out now, and must not undo either change
    contact = Contact.objects.get()
    assert (contact.phone, contact.city) == (NEW_PHONE, "Newcity")
    assert (remote.state["phone"], remote.state["city"]) == (NEW_PHONE, "Newcity")
    assert remote.bodies == [{"city": "Newcity"}]  # only what the portal changed, once


def test_crm_webhook_late(crm_record, notify_crm):
    notified = crm_record.change_phone()  # its webhook is delayed
    edit_city_here()
    drain()
    assert crm_record.bodies == [{"city": "Newcity"}]
    notify_crm(notified)  # the late webhook still carries the old city
    assert_both_sides_have_both_changes(crm_record)


def test_crm_webhook_first(crm_record, notify_crm):
    notified = crm_record.change_phone()
    edit_city_here()  # not pushed yet
    notify_crm(notified)
    assert Contact.objects.get().phone == NEW_PHONE
    assert_both_sides_have_both_changes(crm_record)


def test_crm_webhook_lost_then_reconciled(crm, crm_record, crm_connection):
    crm_record.change_phone()  # its webhook never comes
    edit_city_here()
    drain()
    crm.add_callback(
        "GET",
        CRM + "/contacts/",
        callback=lambda request: (200, {}, json.dumps(listing(crm_record.state))),
    )
    report = Reconciler(crm_connection, repair=True).run(["contact"])
    assert report.counts["different"] == 1 and not report.repair_errors
    assert_both_sides_have_both_changes(crm_record)


def listing(record: dict) -> dict:
    meta = {"total": 1, "startAfterId": record["id"], "startAfter": 1700000000000}
    return {"contacts": [record], "meta": meta}


# --- a partner (REST, PATCH updates, webhooks in its own id) -------------------------------------

SECRET = "whsec_" + base64.b64encode(b"shop-secret-0123456789abcdefghij").decode()
SHOP = "https://shop.example"


@pytest.fixture
def shop(workspace, dns):  # noqa: F811
    conn = ConnectionFactory(
        workspace=workspace, provider="rest", name="Shop", slug="shop", base_url=SHOP,
        credentials={"webhook_secrets": [SECRET], "token": "shop-token"},
        options={"auth": {"type": "bearer"}, "objects": {"contact": {
            "create": {"method": "POST", "path": "/contacts", "id_path": "id"},
            "update": {"method": "PATCH", "path": "/contacts/{id}"},
        }}},
    )  # fmt: skip
    for position, name in enumerate(("first_name", "email", "phone", "city")):
        FieldMapping.objects.create(
            connection=conn, object_type="contact", mirror_field=name, remote_path=name,
            position=position,
        )  # fmt: skip
    return conn


@pytest.fixture
def notify_shop(client, run_inbound):
    def notify(event_type: str, record: dict) -> list[str]:
        data = {**record, "updated_at": record.pop("dateUpdated", None)}
        body = json.dumps({"type": event_type, "data": data}).encode()
        msg_id, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = client.generic(
                "POST", "/webhooks/in/shop/", body, content_type="application/json",
                HTTP_WEBHOOK_ID=msg_id, HTTP_WEBHOOK_TIMESTAMP=str(ts),
                HTTP_WEBHOOK_SIGNATURE=sign(SECRET, msg_id, ts, body),
            )  # fmt: skip
        assert response.status_code == 200
        return run_inbound()

    return notify


@pytest.fixture
def shop_record(shop, notify_shop):
    record = {
        "id": "p-1", "first_name": "Ada", "email": "ada@example.com", "phone": OLD_PHONE,
        "city": "Oldtown", "dateUpdated": iso(CREATED),
    }  # fmt: skip
    notify_shop("contact.created", dict(record))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        remote = FakeRemote(mock, record)
        remote.route("PATCH", SHOP + "/contacts/p-1")
        yield remote


@pytest.mark.parametrize("webhook", ["late", "first"])
def test_partner_concurrent_edits(shop_record, notify_shop, webhook):
    notified = shop_record.change_phone()
    edit_city_here()
    if webhook == "late":
        drain()
    notify_shop("contact.updated", notified)
    assert_both_sides_have_both_changes(shop_record)


def test_an_echo_of_our_partial_push_changes_nothing(crm_record, notify_crm):
    edit_city_here()
    drain()
    contact = Contact.objects.get()
    version = contact.version
    notify_crm({**crm_record.state})  # the CRM announces the state our PUT made
    contact.refresh_from_db()
    assert contact.version == version and contact.city == "Newcity"
