"""Two-way correctness: newest wins, tombstones are final, echoes end, fan-out skips the origin."""

import pytest
from django.test import TestCase

from contacts.models import Contact
from contacts.services import contact_update
from portal.models import AuditEntry
from sync.engine.push import drain
from sync.models import InboundEvent, InboundStatus, Link, OutboundChange
from tests.factories import TEST_ACTOR, ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory
from tests.sync.webhooks.conftest import example, now_iso, post_crm

pytestmark = pytest.mark.django_db
REMOTE_ID = "nmFmQEsNgz6AVpgLVUJ0"


@pytest.fixture
def deliver(client, run_inbound):
    def deliver(body: dict) -> InboundEvent:
        assert post_crm(client, body).status_code == 200
        run_inbound()
        return InboundEvent.objects.get(webhook_id=body["webhookId"])

    return deliver


@pytest.fixture
def partner(crm_connection):
    return ConnectionFactory(
        workspace=crm_connection.workspace, provider="webhook", name="Shop", slug="shop"
    )


def at(hour: int) -> str:
    return f"2025-03-01T{hour:02d}:00:00Z"


def the_contact() -> Contact:
    return Contact.objects.get()


def test_an_update_before_its_create_ends_in_the_newest_state(deliver, crm_connection):
    deliver(example("ContactUpdate", firstName="Newer", dateUpdated=at(12)))
    create = deliver(example("ContactCreate", firstName="Older", dateAdded=at(10)))
    assert create.status == InboundStatus.IGNORED and "older" in create.result
    assert the_contact().first_name == "Newer"


def test_an_older_update_arriving_late_changes_nothing(deliver, crm_connection):
    deliver(example("ContactCreate", dateAdded=at(9)))
    deliver(example("ContactUpdate", firstName="Noon", dateUpdated=at(12)))
    late = deliver(example("ContactUpdate", firstName="Morning", dateUpdated=at(11)))
    assert late.status == InboundStatus.IGNORED
    assert the_contact().first_name == "Noon"


def test_an_update_after_a_delete_does_not_resurrect(deliver, crm_connection):
    deliver(example("ContactCreate", dateAdded=at(9)))
    deliver(example("ContactDelete"))
    late = deliver(example("ContactUpdate", firstName="Zombie", dateUpdated=at(23)))
    assert late.status == InboundStatus.IGNORED
    contact = the_contact()
    assert contact.is_deleted and contact.first_name == "John"


def test_a_create_arriving_after_its_delete_is_not_created(deliver, crm_connection):
    assert deliver(example("ContactDelete")).status == InboundStatus.PROCESSED
    late = deliver(example("ContactCreate"))
    assert late.status == InboundStatus.IGNORED and not Contact.objects.exists()


def test_the_same_delivery_twice_is_applied_once(client, run_inbound, crm_connection):
    body = example("ContactCreate")
    assert post_crm(client, body).status_code == 200
    assert post_crm(client, body).status_code == 200
    run_inbound()
    assert Contact.objects.count() == 1
    assert AuditEntry.objects.filter(object_type="contacts.contact").count() == 1


def test_a_crm_change_fans_out_to_partners_never_back_to_the_crm(deliver, partner):
    deliver(example("ContactCreate"))
    contact = the_contact()
    rows = OutboundChange.objects.filter(object_type="contact", object_id=contact.pk)
    assert [row.connection for row in rows] == [partner]
    entry = AuditEntry.objects.get(object_type="contacts.contact")
    assert (entry.actor_kind, entry.source, entry.actor_label) == ("connection", "webhook", "CRM")


def _pushed_contact(crm, crm_connection) -> Contact:
    """A contact made here and pushed to the CRM (remote id R1): the CRM now holds it."""
    contact = ContactFactory(
        workspace=crm_connection.workspace, first_name="Ada", last_name="Lovelace",
        email="ada@example.com",
    )  # fmt: skip
    crm.post(CRM + "/contacts/", json={"contact": {"id": "R1"}}, status=201)
    drain()
    link = Link.objects.get(connection=crm_connection, object_type="contact", object_id=contact.pk)
    assert link.remote_id == "R1" and link.last_pushed_hash
    return contact


def _echo_of(contact: Contact, **changes) -> dict:
    """What the CRM sends after our push: the contact's fields as it now holds them."""
    body = {
        "type": "ContactUpdate",
        "locationId": contact.workspace.location_id,
        "id": "R1",
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "email": contact.email,
        "dnd": False,
        "tags": [],
        "webhookId": f"echo-{contact.pk}-{len(changes)}",
        "timestamp": now_iso(),
    }
    return {**body, **changes}


def test_the_echo_of_our_own_push_writes_no_audit_and_no_outbox_row(
    deliver, crm, crm_connection, partner
):
    contact = _pushed_contact(crm, crm_connection)
    audits, outbox = AuditEntry.objects.count(), OutboundChange.objects.count()
    event = deliver(_echo_of(contact))
    assert event.status == InboundStatus.ECHO
    assert AuditEntry.objects.count() == audits and OutboundChange.objects.count() == outbox


def test_a_late_echo_does_not_undo_a_newer_local_change(deliver, crm, crm_connection, partner):
    contact = _pushed_contact(crm, crm_connection)
    echo = _echo_of(contact)
    contact_update(contact, actor=TEST_ACTOR, data={"first_name": "Augusta"})
    audits, outbox = AuditEntry.objects.count(), OutboundChange.objects.count()
    assert deliver(echo).status == InboundStatus.ECHO
    assert the_contact().first_name == "Augusta"
    assert AuditEntry.objects.count() == audits and OutboundChange.objects.count() == outbox


def test_a_real_crm_change_after_our_push_is_applied(deliver, crm, crm_connection, partner):
    contact = _pushed_contact(crm, crm_connection)
    event = deliver(_echo_of(contact, firstName="Countess"))
    assert event.status == InboundStatus.PROCESSED
    assert the_contact().first_name == "Countess"
    assert OutboundChange.objects.filter(connection=partner).count() == 2  # create + update
    assert not OutboundChange.objects.filter(connection=crm_connection, status="pending").exists()


def test_a_source_of_truth_connection_wins_even_with_an_older_timestamp(deliver, crm_connection):
    crm_connection.source_of_truth = ["contact"]
    crm_connection.save()
    deliver(example("ContactCreate", dateAdded=at(9)))
    deliver(example("ContactUpdate", firstName="Noon", dateUpdated=at(12)))
    late = deliver(example("ContactUpdate", firstName="Truth", dateUpdated=at(11)))
    assert late.status == InboundStatus.PROCESSED and the_contact().first_name == "Truth"


def test_when_another_connection_is_source_of_truth_crm_updates_do_not_apply(
    deliver, crm_connection, partner
):
    partner.source_of_truth = ["contact"]
    partner.save()
    deliver(example("ContactCreate", dateAdded=at(9)))  # creating is no conflict
    update = deliver(example("ContactUpdate", firstName="Other", dateUpdated=at(12)))
    assert update.status == InboundStatus.IGNORED and "source of truth" in update.result
    assert the_contact().first_name == "John"


def test_tasks_of_a_deleted_contact_are_not_created(deliver, crm, crm_connection):
    deliver(example("ContactCreate", id="CWBf1PR9LvvBkcYqiXlc"))
    deliver(example("ContactDelete", id="CWBf1PR9LvvBkcYqiXlc"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        event = deliver(example("TaskCreate"))
    assert event.status == InboundStatus.IGNORED and "deleted" in event.result
