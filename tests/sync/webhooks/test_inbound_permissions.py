"""A partner writes only what it was granted (architecture invariant 10; issue 14, item 3).

Each attack is tried as an attacker would: a signed delivery to /webhooks/in/<slug>/ (or a
partner API key). Each is refused, the inbound event says why, the record's timeline shows it,
and nothing reaches the CRM: no outbox row, no request (the `crm` mock has no routes, and its
calls are counted).
"""

import base64
import json
import time
import uuid
from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from contacts.models import Contact, CrmUser
from sync.console.timeline import timeline
from sync.engine.push import drain
from sync.models import Direction, InboundEvent, InboundStatus, Link, OutboundChange
from sync.transport.standard_webhooks import sign
from tests.api_fixtures import client_for
from tests.factories import ContactFactory, CrmUserFactory
from tests.sync.factories import ConnectionFactory
from tests.sync.webhooks.conftest import example, post_crm

pytestmark = pytest.mark.django_db
SECRET = "whsec_" + base64.b64encode(b"signage-secret-0123456789abcdef").decode()


@pytest.fixture
def signage(crm_connection):
    """A partner as shipped: default grants (contacts create/update), users direction off."""
    return ConnectionFactory(
        workspace=crm_connection.workspace,
        provider="webhook",
        name="Signage",
        slug="signage",
        credentials={"webhook_secrets": [SECRET]},
        users_direction=Direction.OFF,
    )


@pytest.fixture
def send(client, run_inbound):
    def send(event_type: str, data: dict) -> InboundEvent:
        body = json.dumps({"type": event_type, "data": data}).encode()
        msg_id, ts = f"msg_{uuid.uuid4().hex}", int(time.time())
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = client.generic(
                "POST", "/webhooks/in/signage/", body, content_type="application/json",
                HTTP_WEBHOOK_ID=msg_id, HTTP_WEBHOOK_TIMESTAMP=str(ts),
                HTTP_WEBHOOK_SIGNATURE=sign(SECRET, msg_id, ts, body),
            )  # fmt: skip
        assert response.status_code == 200
        run_inbound()
        return InboundEvent.objects.get(webhook_id=msg_id)

    return send


def assert_nothing_reaches_the_crm(crm) -> None:
    assert not OutboundChange.objects.exists()
    drain()
    assert len(crm.calls) == 0


def refused(event: InboundEvent, why: str) -> bool:
    return event.status == InboundStatus.REFUSED and why in event.result


def test_users_direction_off_refuses_a_partner_creating_an_agency_admin(send, signage, crm):
    event = send(
        "user.created",
        {"id": "sg-1", "email": "eve@example.com", "role": "admin", "type": "agency"},
    )
    assert refused(event, "users direction is 'off'")
    assert not CrmUser.objects.exists()
    assert_nothing_reaches_the_crm(crm)


def test_a_granted_users_partner_still_cannot_create_an_admin(send, signage, crm):
    signage.users_direction = Direction.BOTH
    signage.inbound_permissions = {"user": {"operations": ["create", "update"], "fields": "*"}}
    signage.save()
    event = send("user.created", {"id": "sg-2", "email": "eve@example.com", "role": "admin"})
    assert refused(event, "privileged user fields (role)")
    assert not CrmUser.objects.exists()
    assert_nothing_reaches_the_crm(crm)


@pytest.fixture
def crm_user(crm_connection):
    user = CrmUserFactory(workspace=crm_connection.workspace, email="owner@example.com")
    Link.objects.create(
        connection=crm_connection, object_type="user", object_id=user.pk, remote_id="U1"
    )
    OutboundChange.objects.all().delete()
    return user


@pytest.mark.parametrize(
    ("grants", "why"),
    [
        ({}, "may not update users"),  # the defaults grant no users at all
        ({"user": {"operations": ["update"], "fields": "*"}}, "privileged user fields (email)"),
    ],
)
def test_a_partner_cannot_change_an_existing_users_email(send, signage, crm, crm_user, grants, why):
    signage.users_direction = Direction.BOTH
    signage.inbound_permissions = grants
    signage.save()
    event = send("user.updated", {"id": crm_user.public_id, "email": "eve@evil.example"})
    assert refused(event, why)
    crm_user.refresh_from_db()
    assert crm_user.email == "owner@example.com"
    assert_nothing_reaches_the_crm(crm)


def test_a_partner_cannot_delete_a_crm_contact_and_the_timeline_says_so(
    send, signage, crm, crm_connection
):
    contact = ContactFactory(workspace=signage.workspace)
    Link.objects.create(
        connection=crm_connection, object_type="contact", object_id=contact.pk, remote_id="C1"
    )
    OutboundChange.objects.all().delete()
    event = send("contact.deleted", {"id": contact.public_id})
    assert refused(event, "may not delete contacts")
    contact.refresh_from_db()
    assert not contact.is_deleted
    assert_nothing_reaches_the_crm(crm)
    entries, _routes = timeline(contact)
    [shown] = [e for e in entries if e.kind == "inbound"]
    assert shown.status == InboundStatus.REFUSED and "may not delete contacts" in shown.detail


def test_a_field_outside_the_grant_is_refused(send, signage, crm):
    signage.inbound_permissions = {
        "contact": {"operations": ["create", "update"], "fields": ["first_name"]}
    }
    signage.save()
    event = send("contact.created", {"id": "sg-3", "first_name": "A", "tags": ["vip"]})
    assert refused(event, "may not write tags of contacts")
    assert not Contact.objects.exists()
    assert_nothing_reaches_the_crm(crm)


def test_a_far_future_partner_time_cannot_freeze_a_record(
    client, send, run_inbound, signage, crm_connection
):
    assert post_crm(client, example("ContactCreate")).status_code == 200
    run_inbound()
    contact = Contact.objects.get()
    frozen = send(
        "contact.updated",
        {"id": contact.public_id, "first_name": "Frozen", "updated_at": "9999-12-31T00:00:00Z"},
    )
    assert frozen.status == InboundStatus.PROCESSED
    contact.refresh_from_db()
    limit = timezone.now() + timedelta(seconds=300)  # WEBHOOK_TOLERANCE_SECONDS
    assert contact.first_name == "Frozen" and contact.source_updated_at <= limit
    # A CRM change after the tolerance window wins; against 9999-12-31 nothing ever would.
    later = (limit + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert post_crm(client, example("ContactUpdate", firstName="Later", dateUpdated=later))
    run_inbound()
    contact.refresh_from_db()
    assert contact.first_name == "Later"


def test_an_api_key_with_users_write_cannot_create_an_admin(make_key, crm_connection, crm):
    _key, writer = make_key(scopes=["users.write"])
    body = {"email": "eve@example.com", "role": "admin", "type": "agency"}
    response = client_for(writer).post("/api/v1/users/", body, format="json")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "missing_scope" and error["details"]["required_scope"] == "users.admin"
    assert "role, type" in error["message"]
    assert not CrmUser.objects.exists()
    assert_nothing_reaches_the_crm(crm)


def test_an_api_key_cannot_take_over_a_user_by_email_without_users_admin(make_key, workspace):
    user = CrmUserFactory(workspace=workspace, email="owner@example.com")
    url = f"/api/v1/users/{user.public_id}/"
    writer = client_for(make_key(scopes=["users.write"])[1])
    assert writer.patch(url, {"email": "eve@evil.example"}, format="json").status_code == 403
    assert writer.patch(url, {"role": "admin"}, format="json").status_code == 403
    assert writer.patch(url, {"first_name": "Renamed"}, format="json").status_code == 200
    user.refresh_from_db()
    assert (user.email, user.role, user.first_name) == ("owner@example.com", "user", "Renamed")
    admin = client_for(make_key(scopes=["users.write", "users.admin"])[1])
    promoted = admin.patch(url, {"role": "admin"}, format="json")
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
