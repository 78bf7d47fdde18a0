"""Operators edit a connection's inbound grants in the admin, and see what is in effect."""

import pytest
from django.urls import reverse

from sync.models import Connection
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def form_of(conn: Connection, **changes) -> dict:
    form = {
        "workspace": conn.workspace_id, "provider": conn.provider, "name": conn.name,
        "slug": conn.slug, "active": "on", "base_url": conn.base_url,
        "location_id": "", "scopes": "", "options": "{}", "source_of_truth": "[]",
        "users_direction": "both", "contacts_direction": "both", "tasks_direction": "both",
        "notes_direction": "both", "appointments_direction": "both",
        "rate_limit_requests": 100, "rate_limit_interval_seconds": 10,
        "rate_limit_daily": 200000, "inbound_permissions": "{}",
    }  # fmt: skip
    return {**form, **changes}


@pytest.fixture
def partner(workspace):
    return ConnectionFactory(
        workspace=workspace, provider="webhook", base_url="https://partner.example/hooks"
    )


def test_the_page_shows_the_safe_defaults_in_effect(admin_client, partner):
    page = admin_client.get(reverse("admin:sync_connection_change", args=[partner.pk]))
    text = page.content.decode()
    assert "Inbound grants in effect" in text and "may_write_privileged_user_fields" in text
    assert "&quot;contact&quot;" in text and "&quot;user&quot;" not in text


def test_grants_are_saved_and_bad_ones_refused_with_the_reason(admin_client, workspace):
    partner = ConnectionFactory(workspace=workspace)  # a CRM URL: no DNS lookup in tests
    url = reverse("admin:sync_connection_change", args=[partner.pk])
    grant = '{"task": {"operations": ["create"], "fields": ["title", "contact"]}}'
    response = admin_client.post(url, form_of(partner, inbound_permissions=grant))
    assert response.status_code == 302, response.content.decode()[:2000]
    partner.refresh_from_db()
    assert partner.inbound_permissions == {
        "task": {"operations": ["create"], "fields": ["title", "contact"]}
    }
    bad = '{"task": {"operations": ["erase"], "fields": ["secret_field"]}}'
    response = admin_client.post(url, form_of(partner, inbound_permissions=bad))
    text = response.content.decode()
    assert response.status_code == 200
    assert "operations are a list of create, update, delete" in text
    assert "fields are &quot;*&quot; or a list of" in text
