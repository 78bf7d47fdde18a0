"""Backfill's overlap: the next page is fetched and prepared on the fetch thread while a page is
written, and a crash inside a page's write still resumes from the last checkpoint exactly."""

import threading

import pytest

from contacts import services
from contacts.models import Contact, CrmUser
from ops import backfill_fetch
from ops.backfill import Backfill
from ops.backfill_runs import start_run
from ops.ingest import Ingestor
from ops.models import BackfillRun, RunStatus
from portal.models import AuditEntry
from sync.models import DeliveryAttempt, Link
from tests.ops.conftest import crm_user
from tests.ops.test_backfill import Killed, run_command

pytestmark = pytest.mark.django_db
GUARD_SECONDS = 30  # only so that a broken overlap fails instead of hanging; no timing asserted


def test_the_next_page_is_fetched_and_prepared_while_a_page_is_written(crm, conn, monkeypatch):
    crm.seed_contacts(250)  # three pages
    prepared_pages: list[int] = []
    second_page_ready = threading.Event()
    prepare = Ingestor.prepare

    def prepare_(self, object_type, items):
        ready = prepare(self, object_type, items)
        prepared_pages.append(len(ready))
        if len(prepared_pages) == 2:
            second_page_ready.set()
        return ready

    waited: list[bool] = []
    apply = Ingestor.apply

    def apply_(self, object_type, items, **kwargs):
        if not waited:  # the first page's write goes on only once page 2 is fetched and ready
            waited.append(second_page_ready.wait(GUARD_SECONDS))
        return apply(self, object_type, items, **kwargs)

    threads: set[str] = set()
    prepare_row = services.prepare_new_row

    def prepare_row_(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return prepare_row(*args, **kwargs)

    monkeypatch.setattr(Ingestor, "prepare", prepare_)
    monkeypatch.setattr(Ingestor, "apply", apply_)
    monkeypatch.setattr(services, "prepare_new_row", prepare_row_)
    run, _ = start_run(conn, ["contact"])
    tally = Backfill(run).execute()
    assert waited == [True]
    assert prepared_pages == [100, 100, 50]
    assert threads == {"backfill-fetch"}  # every new contact was validated ahead of its write
    assert tally.as_dict() == {"created": 250, "updated": 0, "unchanged": 0, "failed": 0}
    assert Contact.objects.count() == Link.objects.count() == 250
    assert AuditEntry.objects.filter(action="create").count() == 250


def test_a_contact_whose_mapping_reads_the_database_is_mapped_when_written(crm, conn, monkeypatch):
    user = crm_user(crm, conn.location_id)
    crm.create_contact(firstName="Ann", email="ann@example.com", assignedTo=user["id"])
    crm.create_contact(firstName="Bob", email="bob@example.com")
    used_database = []
    exit_ = backfill_fetch.Prefetcher.__exit__

    def checked_exit(self, *exc):
        exit_(self, *exc)
        used_database.append(self.database_used_by_thread)

    monkeypatch.setattr(backfill_fetch.Prefetcher, "__exit__", checked_exit)
    run, _ = start_run(conn, ["user", "contact"])
    tally = Backfill(run).execute()
    assert tally.as_dict() == {"created": 3, "updated": 0, "unchanged": 0, "failed": 0}
    assert used_database == [False]
    assert Contact.objects.get(first_name="Ann").assigned_user == CrmUser.objects.get()
    assert Contact.objects.get(first_name="Bob").assigned_user is None


def test_a_crash_inside_a_pages_write_resumes_from_the_last_checkpoint(crm, conn, monkeypatch):
    crm.seed_contacts(450)
    record_changes = services.record_changes
    audits = {"n": 0}

    def crash_on_third(entries):
        audits["n"] += 1
        if audits["n"] == 3:  # page 3's rows are inserted; its audit entries never are
            raise Killed
        return record_changes(entries)

    monkeypatch.setattr(services, "record_changes", crash_on_third)
    with pytest.raises(Killed):
        run_command("sandbox-crm", "--objects", "contacts")
    run = BackfillRun.objects.get()
    assert (run.status, run.pages, run.created) == (RunStatus.RUNNING, 2, 200)
    assert Contact.objects.count() == Link.objects.count() == 200  # page 3 rolled back whole
    monkeypatch.undo()
    out = run_command("sandbox-crm", "--objects", "contacts")
    assert "Resuming backfill" in out and "created 450, updated 0, unchanged 0, failed 0" in out
    assert Contact.objects.count() == 450
    assert Link.objects.values("remote_id").distinct().count() == Link.objects.count() == 450
    assert AuditEntry.objects.filter(action="create").count() == 450
    run.refresh_from_db()
    assert (run.status, run.pages, run.created) == (RunStatus.DONE, 5, 450)


def test_a_page_that_fails_to_write_still_logs_its_calls(crm, conn, monkeypatch):
    crm.seed_contacts(150)  # two pages
    record_changes = services.record_changes
    audits = {"n": 0}

    def fail_second(entries):
        audits["n"] += 1
        if audits["n"] == 2:
            raise RuntimeError("a bug in the page's write")
        return record_changes(entries)

    monkeypatch.setattr(services, "record_changes", fail_second)
    run, _ = start_run(conn, ["contact"])
    with pytest.raises(RuntimeError, match="a bug"):
        Backfill(run).execute()
    # The calls are committed with their page; a page rolled back still keeps its calls' log.
    pages = DeliveryAttempt.objects.filter(connection=conn, path__startswith="/contacts/")
    assert pages.count() == 2 and Contact.objects.count() == 100
    run.refresh_from_db()
    assert (run.pages, run.created) == (1, 100)


def test_a_run_over_contacts_the_portal_has_stops_preparing_them(crm, conn, monkeypatch):
    crm.seed_contacts(350)  # four pages
    first, _ = start_run(conn, ["contact"])
    assert Backfill(first).execute().created == 350
    prepared: list[int] = []
    prepare = Ingestor.prepare

    def counted(self, object_type, items):
        prepared.append(len(items))
        return prepare(self, object_type, items)

    monkeypatch.setattr(Ingestor, "prepare", counted)
    again, _ = start_run(conn, ["contact"])
    tally = Backfill(again).execute()
    assert tally.as_dict() == {"created": 0, "updated": 0, "unchanged": 350, "failed": 0}
    # The first page is prepared (and the second, if fetched before the first was written);
    # once a page brings no new records, the rest are not.
    assert 1 <= len(prepared) <= 2
