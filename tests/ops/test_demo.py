"""The demo's setup steps against an in-process sandbox: records on both sides, idempotent."""

from io import StringIO

import pytest

from contacts.models import Contact, Task
from sandbox import SandboxCRM
from sandbox.management.commands.demo import CONNECTION, Command, instructions
from sync.models import Link, OutboundChange

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


def test_a_newcomer_adds_the_stand_in_notification_platform_and_runs_its_first_sync(
    admin_client, workspace, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """What `make demo` offers: add the connection in the admin, start its first sync there,
    follow it on the dashboard, see the subscribers arrive at the stand-in."""
    from django.urls import reverse

    from ops import admin_push_all
    from ops.models import PushAllRun
    from ops.tasks import push_all
    from sandbox.management.commands.demo import NOTIFY_API_KEY
    from sandbox.standins.notifications import NotificationStandIn
    from sync.engine.outbox import outbound_suppressed
    from sync.engine.push import drain
    from sync.models import Connection
    from tests.factories import ContactFactory

    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]  # what the demo sets for its processes
    monkeypatch.setattr(admin_push_all, "async_task", lambda *args, **kwargs: None)
    with outbound_suppressed():
        people = [ContactFactory(workspace=workspace) for _ in range(5)]
    notify = NotificationStandIn(NOTIFY_API_KEY).start()
    try:
        form = {
            "workspace": workspace.pk, "provider": "notifications", "name": "Notify",
            "slug": "notify", "active": "on", "base_url": notify.base_url,
            "new_credentials": f'{{"api_key": "{NOTIFY_API_KEY}"}}', "test_new_credentials": "on",
            "scopes": "", "options": "{}", "source_of_truth": "[]", "users_direction": "off",
            "contacts_direction": "both", "tasks_direction": "off", "notes_direction": "off",
            "appointments_direction": "off", "rate_limit_requests": 100,
            "rate_limit_interval_seconds": 10, "rate_limit_daily": 200000,
        }  # fmt: skip
        added = admin_client.post(reverse("admin:sync_connection_add"), form, follow=True)
        assert "run its first sync" in added.content.decode(), added.content.decode()[:2000]
        conn = Connection.objects.get(slug="notify")
        url = reverse("admin:ops_push_all", args=[conn.pk])
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(url, {"objects": ["contact"], "start": "1"})
        push_all(PushAllRun.objects.get().pk)  # what the worker runs
        assert drain()["left"] == 0
        assert set(notify.subscribers) == {p.public_id for p in people}
        dashboard = admin_client.get(reverse("dashboard")).content.decode()
        assert "First syncs" in dashboard and "100 %" in dashboard
    finally:
        notify.stop()
