"""Reconcile against the sandbox CRM: injected drift is found, and --repair fixes it."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from contacts.models import Contact, Task
from contacts.services import contact_create, contact_update
from sync.engine.push import drain
from sync.models import Link, OutboundChange
from tests.factories import TEST_ACTOR
from tests.ops.conftest import seed_children

pytestmark = pytest.mark.django_db


def reconcile(*args) -> dict:
    out = StringIO()
    call_command("reconcile", "sandbox-crm", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def synced(crm, conn):
    contacts = crm.seed_contacts(120)
    seed_children(crm, contacts[:10], "task", title="Follow up", completed=False)
    call_command("backfill", "sandbox-crm", "--objects", "contacts,tasks", stdout=StringIO())
    return contacts


def test_a_synced_connection_has_no_drift(synced):
    report = reconcile("--objects", "contacts,tasks")
    assert report["drift"] == 0 and report["checked"] == 130


def test_injected_drift_is_found_and_repaired(crm, conn, workspace, synced):
    new_remote = crm.create_contact(firstName="Missed", email="missed@example.com")
    crm.update_contact(synced[1]["id"], city="Porto")
    crm.delete_contact(synced[2]["id"])
    local_edit = Contact.objects.get(email=synced[3]["email"])
    contact_update(local_edit, actor=TEST_ACTOR, data={"city": "Newer here"})
    OutboundChange.objects.all().delete()  # the push of that edit was lost
    never = contact_create(workspace=workspace, actor=TEST_ACTOR, data={"email": "n@example.com"})
    OutboundChange.objects.all().delete()
    Link.objects.create(connection=conn, object_type="contact", object_id=10**9, remote_id="gone")

    report = reconcile()
    assert report["counts"] == {
        "missing_local": 1,
        "different": 2,
        "deleted_remote": 1,
        "never_pushed": 1,
        "deleted_local": 0,
        "orphan_links": 1,
    }
    assert f"contact {new_remote['id']}" in report["examples"]["missing_local"]
    assert Contact.objects.count() == 121  # a report changes nothing

    repaired = reconcile("--repair")
    assert repaired["repaired"] == 6 and not repaired["repair_errors"]
    assert Contact.objects.get(email="missed@example.com").first_name == "Missed"
    assert Contact.objects.get(email=synced[1]["email"]).city == "Porto"
    assert Contact.objects.get(email=synced[2]["email"]).is_deleted
    assert not Link.objects.filter(remote_id="gone").exists()
    queued = set(OutboundChange.objects.values_list("object_id", flat=True))
    assert queued == {local_edit.pk, never.pk}

    drain()
    assert crm.get_contact(
        Link.objects.get(object_type="contact", object_id=local_edit.pk).remote_id
    )["city"] == ("Newer here")
    # The CRM filled in `source` on the create it received: the newer remote state comes back.
    assert reconcile("--repair")["counts"]["different"] == 1
    final = reconcile()
    assert final["drift"] == 0, final


def test_children_of_sampled_contacts_are_compared(crm, conn, synced):
    task = crm.list("task")[0]
    crm.core.store.delete("task", task["id"])
    report = reconcile("--objects", "contacts,tasks")
    assert report["counts"]["deleted_remote"] == 1
    reconcile("--objects", "contacts,tasks", "--repair")
    assert Task.objects.live().count() == 9


def test_bad_sample_is_a_clear_error(conn):
    with pytest.raises(CommandError, match="--sample must be a percentage"):
        reconcile("--sample", "0")


def test_a_record_whose_create_lands_during_the_listing_is_not_deleted(
    crm, conn, workspace, synced, monkeypatch
):
    """A link that gets its remote id after the listing began is not 'deleted on the remote'."""
    from ops.reconcile import Reconciler

    contact = contact_create(workspace=workspace, actor=TEST_ACTOR, data={"email": "late@x.com"})
    # Its push is done (so only the timing guard protects it); the CRM listing predates it.
    OutboundChange.objects.filter(object_id=contact.pk).update(status="done")
    original = Reconciler._pages

    def pages_then_our_create_lands(self, object_type):
        yield from original(self, object_type)
        # Our push's answer arrives after the CRM was listed: the link gets its remote id now.
        Link.objects.update_or_create(
            connection=conn,
            object_type="contact",
            object_id=contact.pk,
            defaults={"remote_id": "CreatedMeanwhile"},
        )

    monkeypatch.setattr(Reconciler, "_pages", pages_then_our_create_lands)
    report = reconcile("--repair")
    assert report["counts"]["deleted_remote"] == 0
    contact.refresh_from_db()
    assert not contact.is_deleted


def test_a_record_with_a_push_in_flight_is_not_deleted(crm, conn, workspace, synced):
    contact = Contact.objects.get(email=synced[0]["email"])
    crm.delete_contact(synced[0]["id"])
    contact_update(contact, actor=TEST_ACTOR, data={"city": "Still pushing"})
    assert OutboundChange.objects.filter(object_id=contact.pk, status="pending").exists()
    report = reconcile("--repair")
    assert report["counts"]["deleted_remote"] == 0
    contact.refresh_from_db()
    assert not contact.is_deleted
