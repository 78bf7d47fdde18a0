"""Ingestor.apply: a page of remote records → the mirror (new ones in one bulk write)."""

import datetime

import pytest
from django.utils import timezone

from contacts.models import Contact
from contacts.services import contact_delete
from ops.ingest import Ingestor
from portal.actors import Actor
from portal.models import AuditEntry
from sync.engine.outbox import outbound_suppressed
from sync.models import Link, OutboundChange
from tests.factories import TEST_ACTOR, ContactFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
T0 = timezone.now().replace(microsecond=0) - datetime.timedelta(days=1)


@pytest.fixture
def conn(workspace):
    return ConnectionFactory(workspace=workspace, name="CRM", slug="crm")


@pytest.fixture
def ingestor(conn):
    return Ingestor(conn, Actor.connection(conn, source="backfill"))


def remote(i: int, when: datetime.datetime = T0, **fields) -> dict:
    return {
        "id": f"R{i}",
        "firstName": f"First{i}",
        "lastName": "Remote",
        "email": f"r{i}@example.com",
        "phone": f"+1555010{i:04d}",
        "dateAdded": when.isoformat(),
        "dateUpdated": when.isoformat(),
        **fields,
    }


def linked(conn, workspace, remote_id: str, when: datetime.datetime = T0, **fields) -> Contact:
    contact = ContactFactory(workspace=workspace, source_updated_at=when, **fields)
    Link.objects.create(connection=conn, object_type="contact", object_id=contact.pk,
                        remote_id=remote_id)  # fmt: skip
    return contact


def test_a_page_of_new_records_lands_with_links_and_audit_entries(ingestor, conn):
    tally = ingestor.apply("contact", [remote(i) for i in range(5)])
    assert tally.as_dict() == {"created": 5, "updated": 0, "unchanged": 0, "failed": 0}
    contact = Contact.objects.get(email="r3@example.com")
    assert contact.first_name == "First3" and contact.phone == "+15550100003"
    assert contact.source_updated_at == T0
    assert Link.objects.get(connection=conn, remote_id="R3").object_id == contact.pk
    entries = AuditEntry.objects.filter(action="create", object_type="contacts.contact")
    assert entries.count() == 5
    assert {(e.actor_kind, e.actor_id, e.source) for e in entries} == {
        ("connection", str(conn.pk), "backfill")
    }


def test_an_invalid_email_fails_its_record_only(ingestor, conn):
    page = [remote(1), remote(2, email="not-an-email"), remote(3)]
    tally = ingestor.apply("contact", page)
    assert tally.as_dict() == {"created": 2, "updated": 0, "unchanged": 0, "failed": 1}
    assert tally.errors == ["contact R2: email: Enter a valid e-mail address."]
    assert sorted(Link.objects.values_list("remote_id", flat=True)) == ["R1", "R3"]
    assert Contact.objects.count() == 2 and AuditEntry.objects.count() == 2


def test_newer_remote_state_updates_older_is_ignored_same_is_unchanged(ingestor, conn, workspace):
    later = T0 + datetime.timedelta(hours=1)
    newer = linked(conn, workspace, "R1", first_name="Old", email="r1@example.com")
    stale = linked(conn, workspace, "R2", when=later, first_name="Kept", email="r2@example.com")
    same = linked(conn, workspace, "R3", first_name="First3", last_name="Remote",
                  email="r3@example.com", phone="+15550100003")  # fmt: skip
    AuditEntry.objects.all().delete()
    page = [remote(1, when=later), remote(2, when=T0), remote(3), remote(4)]
    tally = ingestor.apply("contact", page)
    assert tally.as_dict() == {"created": 1, "updated": 1, "unchanged": 2, "failed": 0}
    newer.refresh_from_db(), stale.refresh_from_db(), same.refresh_from_db()
    assert (newer.first_name, newer.version, newer.source_updated_at) == ("First1", 2, later)
    assert (stale.first_name, stale.version) == ("Kept", 1)
    assert same.version == 1
    audited = sorted(AuditEntry.objects.values_list("action", "object_id"))
    assert audited == sorted(
        [
            ("update", newer.public_id),
            ("create", Contact.objects.get(email="r4@example.com").public_id),
        ]
    )


def test_a_tombstone_stays_deleted(ingestor, conn, workspace):
    contact = linked(conn, workspace, "R1", first_name="Gone")
    contact_delete(contact, actor=TEST_ACTOR)
    later = T0 + datetime.timedelta(days=1)
    tally = ingestor.apply("contact", [remote(1, when=later)])
    assert tally.unchanged == 1 and tally.created == 0
    contact.refresh_from_db()
    assert contact.is_deleted and contact.first_name == "Gone"
    assert Contact.objects.count() == 1


def test_re_applying_a_page_is_idempotent(ingestor):
    page = [remote(i) for i in range(4)]
    ingestor.apply("contact", page)
    again = ingestor.apply("contact", page)
    assert again.as_dict() == {"created": 0, "updated": 0, "unchanged": 4, "failed": 0}
    assert Contact.objects.count() == 4 and Link.objects.count() == 4
    assert AuditEntry.objects.count() == 4


def test_new_records_queue_outbox_rows_unless_suppressed(ingestor, conn, workspace):
    other = ConnectionFactory(workspace=workspace, name="Other", slug="other")
    ingestor.apply("contact", [remote(1), remote(2)])
    assert OutboundChange.objects.filter(connection=other).count() == 2
    assert not OutboundChange.objects.filter(connection=conn).exists()  # never back to its origin
    with outbound_suppressed():
        ingestor.apply("contact", [remote(3)])
    assert Contact.objects.count() == 3 and OutboundChange.objects.count() == 2


def test_a_new_record_is_matched_by_email_only_to_a_contact_not_linked_yet(
    ingestor, conn, workspace
):
    from contacts.services import workspace_set_allow_duplicate_contacts

    workspace_set_allow_duplicate_contacts(workspace=workspace, allow=True)
    taken = linked(conn, workspace, "R1", email="r1@example.com")
    free = ContactFactory(workspace=workspace, email="r3@example.com")
    tally = ingestor.apply("contact", [remote(2, email="r1@example.com"), remote(3)])
    # R3 is linked to `free`, whose own state is newer than the remote's: kept as it is
    assert tally.as_dict() == {"created": 1, "updated": 0, "unchanged": 1, "failed": 0}
    assert Link.objects.get(connection=conn, remote_id="R1").object_id == taken.pk
    assert Link.objects.get(connection=conn, remote_id="R3").object_id == free.pk
    second = Contact.objects.get(pk=Link.objects.get(connection=conn, remote_id="R2").object_id)
    assert second.pk not in (taken.pk, free.pk) and second.email == "r1@example.com"
