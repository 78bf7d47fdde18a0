"""Admin for partner connectors: SSRF check on save, webhook secret rotation shown once."""

import socket

import pytest
from django.urls import reverse
from standardwebhooks import Webhook

from sync.connectors.webhook_secrets import live_secrets
from sync.models import Connection
from tests.sync.connectors.factories import HOOK_SECRET, webhook_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolves_to(monkeypatch):
    def answer(address: str):
        def fake(host, port, *args, **kwargs):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr(socket, "getaddrinfo", fake)

    return answer


def form_for(conn: Connection, **changes) -> dict:
    form = {
        "workspace": conn.workspace_id, "provider": conn.provider, "name": conn.name,
        "slug": conn.slug, "active": "on", "base_url": conn.base_url, "scopes": "",
        "options": "{}", "source_of_truth": "[]", "users_direction": "off",
        "contacts_direction": "out", "tasks_direction": "off", "notes_direction": "off",
        "appointments_direction": "off", "rate_limit_requests": 100,
        "rate_limit_interval_seconds": 10, "rate_limit_daily": 200000,
    }  # fmt: skip
    return {**form, **changes}


def test_saving_a_partner_url_that_resolves_privately_is_refused(
    admin_client, workspace, resolves_to
):
    resolves_to("93.184.215.14")
    conn = webhook_connection(workspace)
    url = reverse("admin:sync_connection_change", args=[conn.pk])
    resolves_to("10.1.2.3")
    response = admin_client.post(url, form_for(conn, base_url="https://internal.example/x"))
    assert response.status_code == 200 and "a private address" in response.content.decode()
    assert Connection.objects.get(pk=conn.pk).base_url == conn.base_url
    allowed = form_for(
        conn, base_url="https://internal.example/x", options='{"allow_private_network": true}'
    )
    assert admin_client.post(url, allowed).status_code == 302
    assert Connection.objects.get(pk=conn.pk).base_url == "https://internal.example/x"


def test_rotating_a_webhook_secret_shows_the_new_one_once(admin_client, workspace):
    conn = webhook_connection(workspace)
    response = admin_client.post(
        reverse("admin:sync_connection_changelist"),
        {"action": "rotate_webhook_secret", "_selected_action": [conn.pk]},
    )
    page = response.content.decode()
    secrets = live_secrets(Connection.objects.get(pk=conn.pk))
    assert len(secrets) == 2 and secrets[1] == HOOK_SECRET
    assert secrets[0] in page and HOOK_SECRET not in page
    Webhook(secrets[0])
    changelist = admin_client.get(reverse("admin:sync_connection_changelist")).content.decode()
    assert secrets[0] not in changelist
