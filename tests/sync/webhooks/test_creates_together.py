"""A batch's new records are created together (sync/inbound/creates.py), and every rule of the
one-by-one path still holds for each of them."""

import pytest
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from contacts.services import writable_fields
from portal.models import AuditEntry
from sync.inbound import creates
from sync.inbound.apply import DELETED_UNKNOWN
from sync.inbound.processing import claim_batch, process_batch
from sync.inbound.snapshot import known_values
from sync.models import (
    InboundEvent,
    InboundStatus,
    Link,
    OutboundChange,
)
from tests.sync.factories import ConnectionFactory
from tests.sync.webhooks.conftest import example, post_crm

pytestmark = pytest.mark.django_db


def deliver(client, *bodies) -> None:
    for body in bodies:
        assert post_crm(client, body).status_code == 200


def new_contact(number: int, **changes) -> dict:
    fields = {"id": f"new{number}", "email": f"n{number}@example.com", **changes}
    return example("ContactCreate", **fields)


def process_one_batch() -> list[str]:
    """Claim and process one batch; the summaries of its events' outcomes."""
    return process_batch(claim_batch(limit=50))


def outcome(remote_id: str) -> InboundEvent:
    return InboundEvent.objects.filter(remote_id=remote_id).latest("id")


@pytest.fixture
def partner(workspace):
    return ConnectionFactory(workspace=workspace, name="Partner", slug="partner")


def test_a_run_of_new_contacts_is_created_with_links_audit_and_pushes(
    client, crm_connection, partner
):
    deliver(client, *(new_contact(n) for n in range(6)))
    assert len(process_one_batch()) == 6
    for n in range(6):
        event = outcome(f"new{n}")
        contact = Contact.objects.get(email=f"n{n}@example.com")
        assert (event.status, event.result) == (
            InboundStatus.PROCESSED,
            f"created {contact.public_id}",
        )
        assert event.lease_token == "" and event.processed_at is not None
        link = Link.objects.get(connection=crm_connection, object_id=contact.pk)
        assert link.remote_id == f"new{n}"
        assert known_values(link)["email"] == f"n{n}@example.com"
        assert AuditEntry.objects.filter(object_id=contact.public_id).count() == 1
    pushes = OutboundChange.objects.all()
    assert {change.connection_id for change in pushes} == {partner.pk}  # never back to the CRM
    assert pushes.count() == 6


def test_a_run_costs_the_same_statements_whatever_its_length(client, crm_connection, partner):
    """(A record's references, such as the user it is assigned to, are still looked up one
    record at a time: these contacts are assigned to nobody.)"""

    def statements_for(count: int, first: int) -> int:
        contacts = (new_contact(n, assignedTo=None) for n in range(first, first + count))
        deliver(client, *contacts)
        batch = claim_batch(limit=50)
        assert len(batch) == count
        with CaptureQueriesContext(connection) as queries:
            results = process_batch(batch)
        assert all(result.startswith(InboundStatus.PROCESSED) for result in results)
        return len(queries.captured_queries)

    assert statements_for(3, first=0) == statements_for(9, first=100)


def test_events_of_one_record_in_one_batch_are_applied_in_order(client, crm_connection):
    deliver(
        client,
        new_contact(1, firstName="Ann"),
        new_contact(2),
        example("ContactUpdate", id="new1", email="n1@example.com", firstName="Anna"),
        new_contact(3),
    )
    process_one_batch()
    assert Contact.objects.get(email="n1@example.com").first_name == "Anna"
    assert Contact.objects.count() == 3
    assert InboundEvent.objects.filter(status=InboundStatus.PROCESSED).count() == 4


def test_a_record_already_linked_is_updated_not_created_again(client, crm_connection):
    deliver(client, new_contact(1, firstName="Ann"))
    process_one_batch()
    deliver(client, new_contact(1, firstName="Anna"), new_contact(2))
    process_one_batch()
    assert Contact.objects.count() == 2
    assert Contact.objects.get(email="n1@example.com").first_name == "Anna"
    assert outcome("new1").result.startswith("updated ")


def test_a_delete_that_came_first_keeps_its_record_from_being_created(client, crm_connection):
    deliver(client, example("ContactDelete", id="new1"))
    process_one_batch()
    assert outcome("new1").result == DELETED_UNKNOWN
    deliver(client, new_contact(1), new_contact(2))
    process_one_batch()
    event = outcome("new1")
    assert (event.status, event.result) == (
        InboundStatus.IGNORED,
        "deleted at the source earlier: not created",
    )
    assert list(Contact.objects.values_list("email", flat=True)) == ["n2@example.com"]


def test_our_own_create_in_flight_makes_its_echo_wait(client, crm_connection, workspace):
    ours = Contact.objects.create(workspace=workspace, email="mine@example.com")
    Link.objects.create(connection=crm_connection, object_type="contact", object_id=ours.pk)
    OutboundChange.objects.create(
        connection=crm_connection, object_type="contact", object_id=ours.pk
    )
    deliver(client, new_contact(1, email="MINE@example.com"), new_contact(2))
    process_one_batch()
    waiting = outcome("new1")
    assert waiting.status == InboundStatus.RECEIVED
    assert waiting.lease_token == "" and waiting.lease_until is not None
    assert "has no answer yet" in waiting.error
    assert outcome("new2").status == InboundStatus.PROCESSED
    assert Contact.objects.filter(email="mine@example.com").count() == 1


def test_a_create_the_connection_may_not_make_is_refused_alone(client, crm_connection):
    all_but_phone = [name for name in writable_fields(Contact) if name != "phone"]
    crm_connection.inbound_permissions = {
        "contact": {"operations": ["create"], "fields": all_but_phone}
    }
    crm_connection.save()
    deliver(client, new_contact(1, phone="+15550100001"), new_contact(2, phone=None))
    process_one_batch()
    refused = outcome("new1")
    assert refused.status == InboundStatus.REFUSED
    assert refused.result == "refused: this connection may not write phone of contacts"
    assert outcome("new2").status == InboundStatus.PROCESSED
    assert list(Contact.objects.values_list("email", flat=True)) == ["n2@example.com"]


def test_a_record_validation_refuses_fails_alone(client, crm_connection):
    deliver(client, new_contact(1, email="not an address"), new_contact(2), new_contact(3))
    process_one_batch()
    failed = outcome("new1")
    assert failed.status == InboundStatus.FAILED
    assert failed.error.startswith("Invalid record:") and "email" in failed.error
    assert Contact.objects.count() == 2


def test_two_creates_with_one_e_mail_keep_the_first(client, crm_connection):
    deliver(
        client, new_contact(1, email="same@example.com"), new_contact(2, email="same@example.com")
    )
    process_one_batch()
    assert outcome("new1").status == InboundStatus.PROCESSED
    second = outcome("new2")
    assert second.status == InboundStatus.FAILED
    assert "duplicates are not allowed" in second.error
    assert Contact.objects.filter(email="same@example.com").count() == 1


def test_a_record_linked_meanwhile_sends_the_run_the_one_by_one_way(
    client, crm_connection, monkeypatch
):
    deliver(client, new_contact(1, firstName="Ann"))
    process_one_batch()
    # Another worker linked new1 between this run's lookup and its write.
    monkeypatch.setattr(creates, "_linked", lambda *args: set())
    renamed = new_contact(1, email="n1b@example.com", firstName="Anna")
    deliver(client, renamed, new_contact(2), new_contact(3))
    results = process_one_batch()
    assert len(results) == 3
    assert Contact.objects.count() == 3  # nothing created twice
    assert Contact.objects.get(email="n1b@example.com").first_name == "Anna"
    assert {outcome(f"new{n}").status for n in (1, 2, 3)} == {InboundStatus.PROCESSED}
    assert Link.objects.filter(remote_id="new1").count() == 1


def test_a_run_that_breaks_otherwise_is_applied_one_by_one(client, crm_connection, monkeypatch):
    def broken(*args, **kwargs):
        raise DataError("value out of range")

    monkeypatch.setattr(creates, "mirror_bulk_create", broken)
    deliver(client, new_contact(1), new_contact(2))
    process_one_batch()
    assert Contact.objects.count() == 2
    assert {outcome(f"new{n}").status for n in (1, 2)} == {InboundStatus.PROCESSED}
