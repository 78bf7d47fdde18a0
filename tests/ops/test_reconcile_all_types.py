"""Reconcile covers tasks, notes and appointments (the CRM's location-wide listings where it has
them), and runs per connection on its own interval (issue 14, item 5). Sandbox CRM."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from contacts.models import Appointment, Note, Task
from ops import tasks
from ops.reconcile import Reconciler
from sync.engine import queue
from sync.models import Connection, Link
from tests.ops.conftest import seed_children
from tests.ops.test_backfill_listings import seed_appointments
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
EVERY_TYPE = ["user", "contact", "task", "note", "appointment"]


@pytest.fixture
def synced(crm, conn):
    contacts = crm.seed_contacts(20)
    seed_children(crm, contacts[:10], "task", title="Follow up", completed=False)
    seed_children(crm, contacts[:10], "note", body="Met at the fair")
    seed_appointments(crm, contacts)
    call_command(
        "backfill", "sandbox-crm", "--objects", "contacts,tasks,notes,appointments",
        stdout=StringIO(),
    )  # fmt: skip
    return contacts


def later_iso() -> str:
    return (datetime.now(UTC) + timedelta(seconds=1)).isoformat()


def test_missed_task_note_and_appointment_webhooks_are_found_and_repaired(crm, conn, synced, sent):
    assert Reconciler(conn).run(EVERY_TYPE).drift == 0
    # What three lost webhooks would have said: a task added, a note deleted, an appointment
    # moved to another title at the CRM.
    seed_children(crm, [synced[15]], "task", title="Added at the CRM", completed=False)
    note = crm.core.store.children("note", synced[0]["id"])[0]
    crm.core.store.delete("note", note["id"])
    event = crm.core.store.children("appointment", synced[1]["id"])[0]
    event.update(title="Moved call", dateUpdated=later_iso())
    crm.core.store.put("appointment", event, parent_id=synced[1]["id"])

    report = Reconciler(conn).run(EVERY_TYPE)
    assert report.counts["missing_local"] == 1
    assert report.counts["deleted_remote"] == 1
    assert report.counts["different"] == 1, report.as_dict()
    repaired = Reconciler(conn, repair=True).run(EVERY_TYPE)
    assert repaired.repaired == 3 and not repaired.repair_errors
    assert Task.objects.get(title="Added at the CRM").contact.email == synced[15]["email"]
    gone = Link.objects.get(object_type="note", remote_id=note["id"])
    assert Note.objects.get(pk=gone.object_id).is_deleted
    moved = Link.objects.get(object_type="appointment", remote_id=event["id"])
    assert Appointment.objects.get(pk=moved.object_id).title == "Moved call"
    assert Reconciler(conn).run(EVERY_TYPE).drift == 0

    # Tasks and appointments by the location-wide listings; notes one contact at a time.
    assert f"/locations/{conn.location_id}/tasks/search" in sent
    assert "/calendars/events" in sent
    assert not [p for p in sent if p.endswith(("/tasks", "/appointments"))]
    assert f"/contacts/{synced[0]['id']}/notes" in sent


def test_a_type_the_connector_cannot_list_is_skipped_and_named(crm, conn, synced, monkeypatch):
    from sync.connectors.highlevel.client import HighLevelConnector

    monkeypatch.setattr(HighLevelConnector, "per_contact_types", frozenset({"task"}))
    report = Reconciler(conn).run(EVERY_TYPE)
    assert report.skipped == ["note"] and report.as_dict()["skipped"] == ["note"]


def test_reconcile_is_scheduled_per_connection(crm, conn, synced, sent, monkeypatch):
    queued = []
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: queued.append(args))
    now = timezone.now()
    Connection.objects.filter(pk=conn.pk).update(reconcile_interval_hours=6, reconcile_due_at=now)
    ConnectionFactory(workspace=conn.workspace)  # new: its first reconcile is a day away
    ConnectionFactory(workspace=conn.workspace, reconcile_interval_hours=0, reconcile_due_at=now)

    assert tasks.reconcile_due(now=now) == 1
    assert queued == [(tasks.RECONCILE_TASK, conn.pk)]
    conn.refresh_from_db()
    assert conn.reconcile_due_at == now + timedelta(hours=6)
    assert tasks.reconcile_due(now=now + timedelta(hours=5)) == 0
    assert tasks.reconcile_due(now=now + timedelta(hours=23, minutes=59)) == 1  # conn again

    for contact in crm.list("contact"):  # unchanged at the CRM for days
        contact["dateUpdated"] = (datetime.now(UTC) - timedelta(days=3)).isoformat()
        crm.core.store.put("contact", contact)
    crm.update_contact(synced[3]["id"], city="Porto")  # its webhook lost
    report = tasks.reconcile_connection(conn.pk)
    assert report["counts"]["different"] == 1 and report["repaired"] == 1
    # Notes are listed one contact at a time: only for the contact the CRM changed since.
    assert [p for p in sent if p.endswith("/notes")] == [f"/contacts/{synced[3]['id']}/notes"]
    assert report["checked"] == 20 + 10 + 1 + 20 + len(crm.list("user"))
