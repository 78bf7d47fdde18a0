"""A record's timeline: audit diffs, outbox rows, attempts, webhooks, and where it goes."""

import json

import pytest
from django.urls import reverse

from contacts.services import contact_update
from portal.actors import Actor
from sync.console.timeline import timeline
from sync.engine.push import drain
from sync.models import InboundEvent, Link
from tests.factories import ContactFactory, NoteFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory, RuleFactory

pytestmark = pytest.mark.django_db
VIP_ONLY = {"op": "AND", "conditions": [{"field": "tags", "operator": "ANY_IN", "value": ["vip"]}]}


def _create(request):
    if "pit-broken" in request.headers["Authorization"]:
        return 422, {}, json.dumps({"message": ["bad phone"]})
    return 201, {}, json.dumps({"contact": {"id": "R1"}})


@pytest.fixture
def setup(crm, workspace, actor):
    good = ConnectionFactory(workspace=workspace, name="Main CRM")
    ConnectionFactory(
        workspace=workspace, name="Broken CRM", slug="broken", credentials={"token": "pit-broken"}
    )
    vip = ConnectionFactory(workspace=workspace, name="VIP shop", slug="vip")
    RuleFactory(connection=vip, name="VIP only", conditions=VIP_ONLY)
    ConnectionFactory(workspace=workspace, name="No notes", slug="nonotes", contacts_direction="in")
    crm.add_callback("POST", CRM + "/contacts/", callback=_create)
    contact = ContactFactory(workspace=workspace, first_name="Ada")
    drain()
    contact_update(contact, actor=actor, data={"first_name": "Ada B."})
    InboundEvent.objects.create(
        source="highlevel",
        source_key="highlevel",
        connection=good,
        event_type="ContactUpdate",
        webhook_id="w-1",
        object_type="contact",
        remote_id="R1",
        body="{}",
        status="echo",
    )
    return contact, good


def test_timeline_lists_every_kind_of_event_newest_first(setup):
    contact, _ = setup
    entries, _ = timeline(contact)
    kinds = {entry.kind for entry in entries}
    assert kinds == {"audit", "outbox", "delivery", "inbound"}
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    update = next(e for e in entries if e.kind == "audit" and e.status == "update")
    assert ("first_name", "Ada", "Ada B.") in update.diff
    failed = next(e for e in entries if e.kind == "delivery" and e.status == "permanent")
    assert failed.connection == "Broken CRM" and "bad phone" in failed.detail


def test_routes_say_where_the_record_went_or_why_not(setup):
    contact, _ = setup
    _, routes = timeline(contact)
    by_name = {route.connection.name: route for route in routes}
    assert by_name["Main CRM"].remote_id == "R1"
    assert by_name["Main CRM"].verdict in ("sent", "pending")  # the update is still queued
    broken = by_name["Broken CRM"]  # the create failed; the update waits behind it
    assert broken.verdict == "pending" and "an earlier push failed: HTTP 422" in broken.reason
    assert by_name["VIP shop"].verdict == "excluded" and "VIP only" in by_name["VIP shop"].reason
    assert by_name["No notes"].verdict == "excluded" and "direction" in by_name["No notes"].reason


def test_a_change_from_a_connection_is_not_sent_back_to_it(workspace):
    source = ConnectionFactory(workspace=workspace, name="Partner", dry_run=True)
    contact = ContactFactory.build()  # unsaved: create it as the connection
    from contacts.services import contact_create

    created = contact_create(
        workspace=workspace, actor=Actor.connection(source), data={"first_name": contact.first_name}
    )
    _, routes = timeline(created)
    assert routes[0].verdict == "not sent" and "came from this connection" in routes[0].reason


def test_timeline_page_renders_links_and_is_linked_from_the_change_page(admin_client, setup):
    contact, good = setup
    change_page = admin_client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    url = reverse("record_timeline", args=["contact", contact.pk])
    assert url in change_page.content.decode()
    page = admin_client.get(url).content.decode()
    assert "Ada B." in page and "VIP only" in page and "bad phone" in page
    link = Link.objects.get(connection=good, object_id=contact.pk)
    assert link.remote_id in page
    assert "/admin/sync/deliveryattempt/" in page and "/admin/portal/auditentry/" in page
    assert "/admin/sync/inboundevent/" in page


def test_timeline_of_other_types_and_unknown_names(admin_client, workspace):
    note = NoteFactory(workspace=workspace, contact=ContactFactory(workspace=workspace))
    assert admin_client.get(reverse("record_timeline", args=["note", note.pk])).status_code == 200
    assert admin_client.get(reverse("record_timeline", args=["nope", 1])).status_code == 404
    assert admin_client.get(reverse("record_timeline", args=["note", 999999])).status_code == 404


def test_timeline_queries_are_bounded(admin_client, setup, django_assert_max_num_queries):
    contact, _ = setup
    with django_assert_max_num_queries(16):
        admin_client.get(reverse("record_timeline", args=["contact", contact.pk]))
