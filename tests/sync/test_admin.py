import pytest
from django.urls import reverse

from portal.models import AuditEntry
from sync.models import Connection
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
SECRET = "pit-test-secret-token-0001"


@pytest.mark.parametrize(
    "name",
    ["connection", "link", "fieldmapping", "rule", "outboundchange", "deliveryattempt"],
)
def test_changelists_render(admin_client, name, workspace):
    ConnectionFactory(workspace=workspace)
    ContactFactory(workspace=workspace)
    response = admin_client.get(reverse(f"admin:sync_{name}_changelist"))
    assert response.status_code == 200
    assert SECRET not in response.content.decode()


def test_credentials_are_write_only_and_audited_masked(admin_client, workspace):
    conn = ConnectionFactory(workspace=workspace)
    url = reverse("admin:sync_connection_change", args=[conn.pk])
    page = admin_client.get(url).content.decode()
    assert SECRET not in page and "new_credentials" in page
    form = {
        "workspace": workspace.pk, "provider": "highlevel", "name": conn.name, "slug": conn.slug,
        "active": "on", "base_url": CRM, "location_id": conn.location_id, "scopes": "",
        "options": "{}", "source_of_truth": "[]", "users_direction": "both",
        "contacts_direction": "both", "tasks_direction": "both", "notes_direction": "off",
        "appointments_direction": "both", "rate_limit_requests": 100,
        "rate_limit_interval_seconds": 10, "rate_limit_daily": 200000,
        "new_credentials": '{"token": "pit-new-secret"}',
    }  # fmt: skip
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    conn = Connection.objects.get(pk=conn.pk)
    assert conn.credentials == {"token": "pit-new-secret"} and conn.notes_direction == "off"
    entry = AuditEntry.objects.filter(object_type="sync.connection").latest("id")
    assert entry.changes["credentials"] == ["••••••", "••••••"]
    # Leaving the field blank keeps the stored credentials.
    form["new_credentials"] = ""
    admin_client.post(url, form)
    assert Connection.objects.get(pk=conn.pk).credentials == {"token": "pit-new-secret"}


def test_test_connection_action(admin_client, crm, workspace):
    conn = ConnectionFactory(workspace=workspace)
    crm.get(CRM + "/contacts/", json={"contacts": []})
    response = admin_client.post(
        reverse("admin:sync_connection_changelist"),
        {"action": "test_connections", "_selected_action": [conn.pk]},
        follow=True,
    )
    assert f"Connected to location {conn.location_id}" in response.content.decode()


def test_delete_is_a_tombstone(admin_client, workspace):
    conn = ConnectionFactory(workspace=workspace)
    admin_client.post(reverse("admin:sync_connection_delete", args=[conn.pk]), {"post": "yes"})
    conn = Connection.objects.get(pk=conn.pk)
    assert conn.deleted_at and conn.deleted_by == "admin"
