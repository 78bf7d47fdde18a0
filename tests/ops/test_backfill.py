"""Backfill against the sandbox CRM: counts, resume after a crash, dry run, --since, fan-out."""

import time

import pytest
from django.core.management import call_command

from contacts.models import Contact, Note, Task
from sync.models import Link, OutboundChange
from tests.ops.conftest import seed_children

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
