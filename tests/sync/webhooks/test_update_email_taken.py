"""An inbound update that would give a contact another contact's e-mail, in a workspace that
allows each e-mail once: refused whole, named, and the transaction left clean."""

import pytest

from contacts import services
from contacts.email_uniqueness import DUPLICATE_EMAIL
from contacts.models import Contact
from sync.models import InboundEvent, InboundStatus
from tests.sync.webhooks.conftest import example, post_crm

pytestmark = pytest.mark.django_db(transaction=True)  # autocommit, as a worker runs


@pytest.fixture
def two_contacts(client, crm_connection, run_inbound):
    for number in (1, 2):
        body = example("ContactCreate", id=f"taken{number}", email=f"c{number}@example.com")
        assert post_crm(client, body).status_code == 200
    run_inbound()
    return Contact.objects.get(email="c1@example.com"), Contact.objects.get(email="c2@example.com")


def update_email(client, run_inbound, remote_id: str, email: str) -> InboundEvent:
    body = example("ContactUpdate", id=remote_id, email=email, firstName="Changed")
    assert post_crm(client, body).status_code == 200
    run_inbound()
    return InboundEvent.objects.get(webhook_id=body["webhookId"])


def test_an_update_taking_another_contacts_email_is_refused_whole(
    client, run_inbound, two_contacts
):
    second = two_contacts[1]
    event = update_email(client, run_inbound, "taken2", "c1@example.com")
    assert event.status == InboundStatus.FAILED and DUPLICATE_EMAIL in event.error
    second.refresh_from_db()
    assert (second.email, second.first_name, second.version) == ("c2@example.com", "John", 1)


def test_a_writer_taking_the_email_between_the_check_and_the_write_still_fails_cleanly(
    client, run_inbound, two_contacts, monkeypatch
):
    """The check found no holder; the unique index refuses the write, in the worker's own
    transaction (no savepoint to ask from): refused as a duplicate, nothing half-written, and
    the worker's next event is processed."""
    monkeypatch.setattr(services, "refuse_taken_email", lambda contact, held: None)
    event = update_email(client, run_inbound, "taken2", "c1@example.com")
    assert event.status == InboundStatus.FAILED and DUPLICATE_EMAIL in event.error
    second = Contact.objects.get(pk=two_contacts[1].pk)
    assert (second.email, second.first_name, second.version) == ("c2@example.com", "John", 1)
    assert update_email(client, run_inbound, "taken2", "c3@example.com").status == (
        InboundStatus.PROCESSED
    )
    assert Contact.objects.get(pk=second.pk).email == "c3@example.com"
