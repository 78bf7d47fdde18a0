"""The first sync from the admin: offered after adding a connection, previewed, started, and
followed on the dashboard until the notification platform has every subscriber."""

import re

import pytest
import responses
from django.urls import reverse

from contacts.models import Contact
from ops import admin_push_all
from ops.models import PushAllRun
from ops.tasks import push_all
from sync.engine.outbox import outbound_suppressed
from sync.engine.push import drain
from sync.models import Link
from tests.factories import ContactFactory
from tests.sync.connectors import conftest as connector_fixtures
from tests.sync.connectors.factories import NOTIFY, notifications_connection

pytestmark = pytest.mark.django_db
dns = connector_fixtures.dns  # no real DNS (autouse)


@pytest.fixture
def queued_tasks(monkeypatch):
    calls = []
    monkeypatch.setattr(admin_push_all, "async_task", lambda *a, **kw: calls.append(a))
    return calls


def test_adding_a_connection_offers_its_first_sync(admin_client, workspace):
    form = {
        "workspace": workspace.pk, "provider": "highlevel", "name": "New CRM", "slug": "new-crm",
        "active": "on", "base_url": "https://services.leadconnectorhq.com",
        "location_id": workspace.location_id, "scopes": "", "options": "{}",
        "source_of_truth": "[]", "users_direction": "both", "contacts_direction": "both",
        "tasks_direction": "both", "notes_direction": "both", "appointments_direction": "both",
        "rate_limit_requests": 100, "rate_limit_interval_seconds": 10,
        "rate_limit_daily": 200000,
    }  # fmt: skip
    page = admin_client.post(reverse("admin:sync_connection_add"), form, follow=True)
    html = page.content.decode()
    link = re.search(r'href="([^"]+)" id="offer-first-sync"', html)
    assert link, html[:3000]
    assert admin_client.get(link.group(1)).status_code == 200


def test_first_sync_from_the_admin_reaches_every_subscriber(
    admin_client, workspace, queued_tasks, django_capture_on_commit_callbacks
):
    with outbound_suppressed():
        contacts = [ContactFactory(workspace=workspace) for _ in range(3)]
    conn = notifications_connection(workspace)
    url = reverse("admin:ops_push_all", args=[conn.pk])
    preview = admin_client.post(url, {"objects": ["contact"], "preview": "1"})
    assert "Would queue 3 record(s): 3 contact(s)" in preview.content.decode()
    assert not PushAllRun.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        started = admin_client.post(url, {"objects": ["contact"], "start": "1"}, follow=True)
    run = PushAllRun.objects.get()
    assert queued_tasks == [("ops.tasks.push_all", run.pk)]
    assert f"Started first sync #{run.pk}" in started.content.decode()
    push_all(run.pk)

    with responses.RequestsMock() as remote:
        for contact in contacts:
            remote.get(f"{NOTIFY}/v1/subscribers/{contact.public_id}", status=404)
        remote.post(f"{NOTIFY}/v1/subscribers", status=201, json={"ok": True})
        assert drain()["processed"] == 3
    assert Link.objects.filter(connection=conn).exclude(remote_id="").count() == 3
    assert Contact.objects.count() == 3

    dashboard = admin_client.get(reverse("dashboard")).content.decode()
    row = re.search(r'<tr class="push-all-run">(.*?)</tr>', dashboard, re.S).group(1)
    assert f"#{run.pk}" in row and "Notifications" in row and "100 %" in row


def test_the_action_opens_the_page_for_one_connection(admin_client, workspace):
    conn = notifications_connection(workspace)
    response = admin_client.post(
        reverse("admin:sync_connection_changelist"),
        {"action": "first_sync", "_selected_action": [conn.pk]},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:ops_push_all", args=[conn.pk])
