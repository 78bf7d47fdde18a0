"""Connection credentials: tested before they are swapped in; pages work without the key."""

import pytest
from cryptography.fernet import Fernet
from django.test.utils import override_settings
from django.urls import reverse

from portal.models import AuditEntry
from sync.models import Connection
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
FOREIGN_KEY = Fernet.generate_key().decode()  # not in FERNET_KEYS


def _form(conn, **overrides) -> dict:
    form = {
        "workspace": conn.workspace_id, "provider": "highlevel", "name": conn.name,
        "slug": conn.slug, "active": "on", "base_url": CRM, "location_id": conn.location_id,
        "scopes": conn.scopes, "options": "{}", "source_of_truth": "[]", "users_direction": "both",
        "contacts_direction": "both", "tasks_direction": "both", "notes_direction": "both",
        "appointments_direction": "both", "rate_limit_requests": 100,
        "rate_limit_interval_seconds": 10, "rate_limit_daily": 200000,
    }  # fmt: skip
    return {**form, **overrides}


def test_new_credentials_that_fail_the_test_are_not_swapped_in(admin_client, crm, workspace):
    conn = ConnectionFactory(workspace=workspace)
    crm.get(CRM + "/contacts/", status=401, json={"message": "Invalid JWT"})
    url = reverse("admin:sync_connection_change", args=[conn.pk])
    page = admin_client.post(url, _form(conn, new_credentials='{"token": "pit-wrong"}',
                                        test_new_credentials="on"))  # fmt: skip
    html = page.content.decode()
    assert page.status_code == 200 and "The new credentials failed the test" in html
    assert "pit-wrong" not in html
    assert Connection.objects.get(pk=conn.pk).credentials == {"token": "pit-test-secret-token-0001"}
    assert crm.calls[0].request.headers["Authorization"] == "Bearer pit-wrong"
    assert not AuditEntry.objects.filter(object_type="sync.connection", action="update").exists()


def test_new_credentials_that_pass_the_test_are_swapped_in(admin_client, crm, workspace):
    conn = ConnectionFactory(workspace=workspace)
    crm.get(CRM + "/contacts/", json={"contacts": []})
    url = reverse("admin:sync_connection_change", args=[conn.pk])
    response = admin_client.post(url, _form(conn, new_credentials='{"token": "pit-new"}',
                                            test_new_credentials="on"))  # fmt: skip
    assert response.status_code == 302
    assert Connection.objects.get(pk=conn.pk).credentials == {"token": "pit-new"}
    entry = AuditEntry.objects.get(object_type="sync.connection", action="update")
    assert list(entry.changes) == ["credentials"]


def test_changelists_work_when_a_connection_key_is_gone(admin_client, workspace):
    with override_settings(FERNET_KEYS=[FOREIGN_KEY]):
        ConnectionFactory(workspace=workspace, name="Legacy", dry_run=True)
    ContactFactory(workspace=workspace)  # queues a row for the legacy connection
    for name in ("outboundchange", "deliveryattempt", "inboundevent", "link", "rule",
                 "fieldmapping"):  # fmt: skip
        assert admin_client.get(reverse(f"admin:sync_{name}_changelist")).status_code == 200
    page = admin_client.get(reverse("dashboard")).content.decode()
    assert "Legacy" in page and "1 unreadable with FERNET_KEYS" in page
