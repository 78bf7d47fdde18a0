"""Backfill by the CRM's location-wide listings, against the sandbox CRM: calls per contact,
phases after the contacts, resuming mid-phase, notes of unchanged contacts, time zones, the
fetch thread, one run per connection, and one queued task per connection."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from contacts.models import Appointment, Contact, Note, Task
from ops import tasks
from ops.backfill import Backfill
from ops.backfill_runs import BackfillError, start_run
from ops.models import BackfillRun, RunStatus
from ops.reconcile import Reconciler
from sandbox.util import new_id
from sync.models import DeliveryAttempt, Link
from tests.ops.conftest import seed_children
from tests.ops.test_backfill import Killed, kill_on_checkpoint, run_command
from tests.sync.factories import CRM_BASE_URL, ConnectionFactory
from tests.sync.highlevel_spec import assert_valid_crm_request

pytestmark = pytest.mark.django_db
EVERYTHING = "contacts,tasks,notes,appointments"


def seed_appointments(crm, contacts, calendars=("CalA0000000000000001", "CalB0000000000000001")):
    """One appointment per contact, over the calendars, spread over two years around now."""
    now = datetime.now(UTC).replace(microsecond=0)  # the CRM's times are whole seconds
    for n, contact in enumerate(contacts):
        start = now + timedelta(days=(n % 730) - 365, hours=n % 7)
        record = {
            "id": new_id(),
            "contactId": contact["id"],
            "locationId": contact["locationId"],
            "calendarId": calendars[n % len(calendars)],
            "title": "Intro call",
            "appointmentStatus": "confirmed",
            "startTime": start.isoformat(),
            "endTime": (start + timedelta(minutes=30)).isoformat(),
            "dateAdded": now.isoformat(),
            "dateUpdated": now.isoformat(),
        }
        crm.core.store.put("appointment", record, parent_id=contact["id"])


def calls(conn) -> list[str]:
    attempts = DeliveryAttempt.objects.filter(connection=conn).order_by("pk")
    return list(attempts.values_list("path", flat=True))


def test_everything_in_about_one_call_per_contact(crm, conn):
    contacts = crm.seed_contacts(1000)
    seed_children(crm, contacts, "task", title="Call back", completed=False)
    seed_children(crm, contacts, "note", body="Met at the fair")
    seed_appointments(crm, contacts)
    out = run_command("sandbox-crm", "--objects", EVERYTHING)
    assert "created 4000, updated 0, unchanged 0, failed 0" in out, out
    assert Contact.objects.count() == Task.objects.count() == Note.objects.count() == 1000
    assert Appointment.objects.count() == 1000
    made = calls(conn)
    assert len(made) / 1000 <= 1.1, len(made)
    assert not [path for path in made if path.endswith(("/tasks", "/appointments"))]
    assert made.count(f"/locations/{conn.location_id}/tasks/search") == 11  # 10 full pages
    task = Task.objects.select_related("contact").first()
    link = Link.objects.get(object_type="contact", object_id=task.contact_id)
    assert (
        crm.get("task", Link.objects.get(object_type="task", object_id=task.pk).remote_id)[
            "contactId"
        ]
        == link.remote_id
    )


def test_a_child_whose_contact_is_not_in_the_portal_is_failed_with_the_reason(crm, conn):
    contacts = crm.seed_contacts(3)
    seed_children(crm, contacts, "task", title="Call", completed=False)
    stranger = {"id": "Stranger000000000001", "locationId": conn.location_id}
    seed_children(crm, [stranger], "task", title="Orphan", completed=False)
    out = run_command("sandbox-crm", "--objects", "contacts,tasks")
    assert "created 6, updated 0, unchanged 0, failed 1" in out, out
    assert "its contact is not in the portal" in out


def test_killed_in_the_tasks_phase_resumes_without_duplicates(crm, conn, monkeypatch):
    contacts = crm.seed_contacts(150)
    seed_children(crm, contacts, "task", title="Call", completed=False)
    seed_children(crm, contacts, "task", title="Write", completed=True)
    kill_on_checkpoint(monkeypatch, 4)  # contacts: 2 pages, tasks: 3 pages; dies on tasks 2
    with pytest.raises(Killed):
        run_command("sandbox-crm", "--objects", "contacts,tasks")
    run = BackfillRun.objects.get()
    assert (run.phase, run.cursor, run.pages) == ("task", {"skip": 100}, 3)
    assert (run.created, Task.objects.count()) == (250, 100)
    monkeypatch.undo()
    out = run_command("sandbox-crm", "--objects", "contacts,tasks")
    assert "Resuming backfill" in out and "created 450, updated 0, unchanged 0, failed 0" in out
    assert Task.objects.count() == 300
    assert Link.objects.filter(object_type="task").values("remote_id").distinct().count() == 300


def test_notes_are_listed_again_only_for_contacts_changed_since_the_last_run(crm, conn):
    contacts = crm.seed_contacts(120)
    seed_children(crm, contacts, "note", body="First")
    run_command("sandbox-crm", "--objects", "contacts,notes")
    first = calls(conn)
    assert sum(path.endswith("/notes") for path in first) == 120
    changed = contacts[7]["id"]
    crm.update_contact(changed, city="Lisbon")
    crm.core.store.put(
        "note",
        {"id": new_id(), "contactId": changed, "locationId": conn.location_id, "body": "More"},
        parent_id=changed,
    )
    out = run_command("sandbox-crm", "--objects", "contacts,notes")
    # 119 contacts unchanged, their notes not listed; the changed one's old note is unchanged.
    assert "created 1, updated 1, unchanged 120, failed 0" in out, out
    again = calls(conn)[len(first) :]
    assert [path for path in again if path.endswith("/notes")] == [f"/contacts/{changed}/notes"]
    assert Note.objects.filter(contact__city="Lisbon").count() == 2


def test_appointments_of_a_location_at_utc_plus_0530_read_the_same_both_ways(crm, conn):
    crm.configure(timezone="Asia/Kolkata")
    contacts = crm.seed_contacts(5)
    seed_appointments(crm, contacts)
    run_command("sandbox-crm", "--objects", "contacts,appointments")
    remote = crm.core.store.children("appointment", contacts[0]["id"])[0]
    link = Link.objects.get(object_type="appointment", remote_id=remote["id"])
    stored = Appointment.objects.get(pk=link.object_id)
    assert stored.start_time == datetime.fromisoformat(remote["startTime"])
    # The contact's own listing writes "YYYY-MM-DD HH:MM:SS" in Kolkata's wall clock: read in
    # the location's zone it matches what the calendar events (with offsets) brought in.
    report = Reconciler(conn).run(["contact", "appointment"])
    assert report.checked == 10 and report.drift == 0, report.as_dict()


def test_the_fetch_thread_does_no_database_work(crm, conn, monkeypatch):
    from ops import backfill_fetch

    contacts = crm.seed_contacts(250)
    seed_children(crm, contacts, "note", body="hello")
    seen = []
    original = backfill_fetch.Prefetcher.__exit__

    def exit_(self, *exc):
        original(self, *exc)
        seen.append((self._thread.is_alive(), self.database_used_by_thread))

    monkeypatch.setattr(backfill_fetch.Prefetcher, "__exit__", exit_)
    run, _ = start_run(conn, ["contact", "note"])
    tally = Backfill(run).execute()
    assert tally.created == 500 and seen == [(False, False)]
    assert DeliveryAttempt.objects.filter(connection=conn, outcome="ok").count() == 253


def test_every_request_of_a_backfill_matches_the_crm_spec(crm, conn, monkeypatch):
    from sync.transport import http

    contacts = crm.seed_contacts(30)
    seed_children(crm, contacts, "task", title="Call", completed=False)
    seed_children(crm, contacts, "note", body="hello")
    seed_appointments(crm, contacts)
    sent = []
    send = http._GUARDED_SESSION.send  # the CRM connector's session (SSRF guard, pinned)

    def checked_send(prepared, **kwargs):
        as_crm = prepared.copy()
        as_crm.url = CRM_BASE_URL + prepared.path_url  # the spec's server
        assert_valid_crm_request(as_crm)
        sent.append(prepared.path_url)
        return send(prepared, **kwargs)

    monkeypatch.setattr(http._GUARDED_SESSION, "send", checked_send)
    out = run_command("sandbox-crm", "--objects", "users," + EVERYTHING)
    assert "created 120, updated 0, unchanged 0, failed 0" in out, out
    assert {path.split("?")[0] for path in sent} >= {
        "/users/",
        "/contacts/",
        f"/locations/{conn.location_id}/tasks/search",
        "/calendars/",
        "/calendars/events",
    }


# --- one run per connection; one task per connection -------------------------------------


def test_a_second_start_is_refused_while_a_run_holds_its_lease(crm, conn):
    crm.seed_contacts(10)
    run, _ = start_run(conn, ["contact"])
    with pytest.raises(BackfillError, match="is running"):
        start_run(conn, ["contact"])
    with pytest.raises(CommandError, match="is running"):
        run_command("sandbox-crm")
    with pytest.raises(CommandError, match="is running"):
        run_command("sandbox-crm", "--queue")
    options = {"objects": ["contact"], "since": None, "propagate": False, "restart": True}
    with pytest.raises(BackfillError, match="is running"):  # a second task refuses too
        tasks.backfill_connection(conn.pk, options)
    BackfillRun.objects.filter(pk=run.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    out = run_command("sandbox-crm")  # its process died: the lease ran out, the run resumes
    assert "Resuming backfill" in out and "created 10" in out
    assert BackfillRun.objects.get().lease_token == ""


def test_queue_and_all_enqueue_one_task_per_connection(crm, conn, workspace, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks, "enqueue_backfill", lambda c, o: queued.append((c.pk, o)) or "t1")
    other = ConnectionFactory(
        workspace=workspace, name="Second", slug="second", base_url=crm.base_url
    )
    out = StringIO()
    call_command("backfill", "sandbox-crm", "second", "--queue", "--since", "7d", stdout=out)
    assert [pk for pk, _ in queued] == [conn.pk, other.pk]
    assert queued[0][1]["objects"] == ["contact"] and queued[0][1]["since"].endswith("+00:00")
    queued.clear()
    call_command("backfill", "--all", "--objects", EVERYTHING, stdout=out)
    assert sorted(pk for pk, _ in queued) == sorted([conn.pk, other.pk])
    assert out.getvalue().count("Queued the backfill of") == 4
    with pytest.raises(CommandError, match="Name the connection"):
        call_command("backfill", stdout=out)


def test_a_task_backfills_a_slice_then_queues_the_rest(crm, conn, monkeypatch):
    crm.seed_contacts(250)
    queued = []
    monkeypatch.setattr(tasks, "enqueue_backfill", lambda c, o: queued.append((c.pk, o)))
    monkeypatch.setattr(tasks, "backfill_slice_seconds", lambda: -1.0)  # ends after a page
    options = {"objects": ["contact"], "since": None, "propagate": False, "restart": False}
    result = tasks.backfill_connection(conn.pk, options)
    assert "continues in a new task" in result and queued == [(conn.pk, options)]
    run = BackfillRun.objects.get()
    # The page in flight when the slice ended is written too: nothing fetched is wasted.
    assert run.status == RunStatus.RUNNING and run.pages == 2 and run.lease_token == ""
    while queued:
        _pk, options = queued.pop()
        tasks.backfill_connection(conn.pk, options)
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and Contact.objects.count() == 250
    assert run.created == 250 and run.pages == 3
