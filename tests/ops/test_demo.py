"""The demo's setup steps against an in-process sandbox: records on both sides, idempotent."""

from io import StringIO

import pytest

from contacts.models import Contact, Task
from ops.management.commands.demo import CONNECTION, Command, instructions
from sync.models import Link, OutboundChange
from sync.sandbox import SandboxCRM

pytestmark = pytest.mark.django_db


def test_demo_setup_puts_records_on_both_sides_and_can_run_again(tmp_path, settings):
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]  # as `make demo` sets it
    with SandboxCRM(str(tmp_path / "crm.sqlite3")) as crm:
        command = Command(stdout=StringIO())
        for _ in range(2):  # a second `make demo` reuses the state
            command._seed_crm(crm.base_url)
            command._connect_and_backfill(crm.base_url)
            command._seed_portal()
        assert len(crm.list("contact")) == 3 and len(crm.list("task")) == 3
        assert Contact.objects.count() == 4 and Task.objects.count() == 4
        assert Link.objects.filter(connection__slug=CONNECTION).count() == 6
        pushes = OutboundChange.objects.filter(connection__slug=CONNECTION)
        assert sorted(pushes.values_list("object_type", flat=True)) == ["contact", "task"]
    text = instructions(8000, crm.base_url)
    assert "http://127.0.0.1:8000/webhooks/highlevel/" in text and "reconcile sandbox-crm" in text
