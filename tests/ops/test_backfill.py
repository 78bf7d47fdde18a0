"""Backfill against the sandbox CRM: counts, resume after a crash, dry run, --since, fan-out."""

import re
import time

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from contacts.models import Appointment, Contact, CrmUser, Note, Task
from ops.models import BackfillRun, RunStatus
from portal.models import AuditEntry
from sandbox.util import ms_from_iso
from sync.models import DeliveryAttempt, Link, OutboundChange
from tests.ops.conftest import seed_children
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
N = 5000


def run_command(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("backfill", *args, stdout=out)
    return out.getvalue()


def test_backfill_of_5000_contacts_with_tasks_and_notes(crm, conn):
    contacts = crm.seed_contacts(N)
    seed_children(crm, contacts, "task", title="Call back", completed=False)
    seed_children(crm, contacts[: N // 2], "note", body="Met at the fair")
    started = time.monotonic()
    out = run_command("sandbox-crm", "--objects", "contacts,tasks,notes")
    elapsed = time.monotonic() - started
    assert f"created {N * 5 // 2}, updated 0, unchanged 0, failed 0" in out, out
    assert Contact.objects.count() == N and Task.objects.count() == N
    assert Note.objects.count() == N // 2
    assert Link.objects.filter(connection=conn).count() == N * 5 // 2
    assert not OutboundChange.objects.exists()
    print(f"backfill 5000 contacts + children: {elapsed:.1f} s")


@pytest.mark.parametrize("count", [0, 100, 250])
def test_backfill_ends_cleanly_on_an_empty_or_exactly_full_last_page(crm, conn, count):
    # 0: the CRM's first page is empty; 100: the page after a full last page is empty and has
    # no startAfterId; 250: a short last page.
    crm.seed_contacts(count)
    out = run_command("sandbox-crm", "--objects", "contacts")
    assert f"created {count}, updated 0, unchanged 0, failed 0" in out, out
    assert Contact.objects.count() == count
    assert BackfillRun.objects.get().status == RunStatus.DONE


class Killed(BaseException):
    """Stands in for kill -9: nothing after it runs, the open transaction is lost."""


def kill_on_checkpoint(monkeypatch, nth: int) -> None:
    from ops.backfill import Backfill

    original = Backfill._save_checkpoint
    calls = {"n": 0}

    def save(self, tally, position):
        calls["n"] += 1
        if calls["n"] == nth:
            raise Killed  # inside the page's transaction: its writes are rolled back
        return original(self, tally, position)

    monkeypatch.setattr(Backfill, "_save_checkpoint", save)


def test_a_run_killed_mid_way_resumes_with_exact_counts_and_no_duplicates(crm, conn, monkeypatch):
    contacts = crm.seed_contacts(450)
    seed_children(crm, contacts, "note", body="hello")
    kill_on_checkpoint(monkeypatch, 3)
    with pytest.raises(Killed):
        run_command("sandbox-crm", "--objects", "contacts,notes")
    run = BackfillRun.objects.get()
    assert run.status == RunStatus.RUNNING and run.pages == 2
    assert (run.created, Contact.objects.count(), Note.objects.count()) == (400, 200, 200)
    monkeypatch.undo()
    out = run_command("sandbox-crm", "--objects", "contacts,notes")
    assert "Resuming backfill" in out and "created 900, updated 0, unchanged 0, failed 0" in out
    assert Contact.objects.count() == 450 and Note.objects.count() == 450
    assert Link.objects.values("remote_id").distinct().count() == 900
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and run.pages == 5


def test_a_bad_record_mid_run_and_a_crash_still_give_exact_counts(crm, conn, monkeypatch):
    contacts = crm.seed_contacts(350)
    listed = sorted(contacts, key=lambda c: (ms_from_iso(c["dateAdded"]), c["id"]))  # CRM order
    bad = dict(listed[150], email="no-at-sign")  # page 2 of 4
    crm.core.store.put("contact", bad)
    kill_on_checkpoint(monkeypatch, 3)
    with pytest.raises(Killed):
        run_command("sandbox-crm")
    run = BackfillRun.objects.get()
    assert (run.pages, run.created, run.failed) == (2, 199, 1)
    assert run.errors == [f"contact {bad['id']}: email: Enter a valid e-mail address."]
    monkeypatch.undo()
    out = run_command("sandbox-crm")
    assert "created 349, updated 0, unchanged 0, failed 1" in out, out
    assert Contact.objects.count() == 349 and Link.objects.count() == 349
    assert AuditEntry.objects.filter(action="create").count() == 349


def test_a_second_run_finds_everything_unchanged_and_updates_what_changed(crm, conn):
    contacts = crm.seed_contacts(120)
    run_command("sandbox-crm")
    crm.update_contact(contacts[5]["id"], firstName="Renamed")
    out = run_command("sandbox-crm")
    assert "created 0, updated 1, unchanged 119, failed 0" in out
    assert Contact.objects.get(first_name="Renamed")
    assert Contact.objects.count() == 120


def test_dry_run_writes_nothing_and_reports_what_it_would_do(crm, conn):
    crm.seed_contacts(150)
    audit_before = AuditEntry.objects.count()
    out = run_command("sandbox-crm", "--dry-run")
    assert "Dry run, nothing written; would have: created 150" in out
    assert not Contact.objects.exists() and not Link.objects.exists()
    assert not BackfillRun.objects.exists() and AuditEntry.objects.count() == audit_before
    assert not OutboundChange.objects.exists()


def test_since_fetches_only_records_updated_after_it(crm, conn):
    contacts = crm.seed_contacts(250)
    time.sleep(0.01)
    since = timezone.now()
    time.sleep(0.01)
    for contact in contacts[:3]:
        crm.update_contact(contact["id"], city="Lisbon")
    out = run_command("sandbox-crm", "--since", since.isoformat())
    assert "created 3, updated 0" in out
    assert set(Contact.objects.values_list("city", flat=True)) == {"Lisbon"}
    searches = DeliveryAttempt.objects.filter(path="/contacts/search")
    assert searches.count() == 1 and not DeliveryAttempt.objects.filter(path="/contacts/")


def test_propagate_fans_out_to_other_connections_only(crm, conn, workspace):
    other = ConnectionFactory(workspace=workspace, name="Other", slug="other")
    crm.seed_contacts(3)
    run_command("sandbox-crm", "--propagate")
    assert OutboundChange.objects.filter(connection=other).count() == 3
    assert not OutboundChange.objects.filter(connection=conn).exists()


def test_without_propagate_no_connection_gets_outbox_rows(crm, conn, workspace):
    ConnectionFactory(workspace=workspace, name="Other", slug="other")
    crm.seed_contacts(3)
    run_command("sandbox-crm")
    assert Contact.objects.count() == 3 and not OutboundChange.objects.exists()
    entry = AuditEntry.objects.filter(action="create").last()
    assert entry.actor_kind == "connection" and entry.source == "backfill"


def test_users_appointments_and_matching_an_existing_contact_by_email(crm, conn, workspace):
    from contacts.services import contact_create
    from tests.factories import TEST_ACTOR
    from tests.ops.conftest import crm_user

    local = contact_create(workspace=workspace, actor=TEST_ACTOR, data={"email": "ann@example.com"})
    user = crm_user(crm, workspace.location_id)
    remote = crm.create_contact(firstName="Ann", email="ann@example.com", assignedTo=user["id"])
    crm.core.store.put(
        "appointment",
        {
            "id": "apt1",
            "contactId": remote["id"],
            "locationId": workspace.location_id,
            "calendarId": "cal1",
            "title": "Intro call",
            "appointmentStatus": "confirmed",
            "startTime": "2026-03-01T10:00:00+00:00",
            "endTime": "2026-03-01T10:30:00+00:00",
        },
        parent_id=remote["id"],
    )
    out = run_command("sandbox-crm", "--objects", "users,contacts,appointments")
    assert "failed 0" in out, out
    assert Contact.objects.count() == 1
    local.refresh_from_db()
    assert local.first_name == "Ann"
    assert Link.objects.get(connection=conn, object_type="contact").object_id == local.pk
    appointment = Appointment.objects.get()
    assert appointment.contact == local and appointment.status == "confirmed"
    assert local.assigned_user == CrmUser.objects.get(email="uma@example.com")


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "No connection named 'nope'"),
        (["sandbox-crm", "--objects", "contacts,widgets"], "Unknown object type(s) widget"),
        (["sandbox-crm", "--since", "yesterday"], "is not an ISO 8601 time"),
    ],
)
def test_bad_input_is_a_clear_error(crm, conn, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run_command(*args)


def test_an_unfinished_run_with_other_options_needs_restart(crm, conn, monkeypatch):
    crm.seed_contacts(250)
    kill_on_checkpoint(monkeypatch, 2)
    with pytest.raises(Killed):
        run_command("sandbox-crm")
    monkeypatch.undo()
    with pytest.raises(CommandError, match="give --restart"):
        run_command("sandbox-crm", "--objects", "contacts,notes")
    out = run_command("sandbox-crm", "--objects", "contacts,notes", "--restart")
    assert "created 150, updated 0, unchanged 100" in out and Contact.objects.count() == 250
    assert BackfillRun.objects.filter(status=RunStatus.ABANDONED).count() == 1


def test_a_permanent_remote_error_fails_the_run_with_a_clear_message(crm, conn):
    conn.credentials = {"token": "wrong"}
    conn.save()
    with pytest.raises(CommandError, match="Backfill stopped: HTTP 401"):
        run_command("sandbox-crm")
    assert BackfillRun.objects.get().status == RunStatus.FAILED


def test_progress_reports_records_per_page_with_the_remote_total(crm, conn):
    from ops.backfill import Backfill
    from ops.backfill_runs import start_run

    crm.seed_contacts(250)
    calls = []
    run, resumed = start_run(conn, ["contact"])
    Backfill(run, progress=lambda records, total: calls.append((records, total))).execute()
    assert not resumed and calls == [(100, 250), (100, 250), (50, 250)]
