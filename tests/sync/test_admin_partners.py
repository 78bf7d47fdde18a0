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


def test_a_webhook_connection_added_in_the_admin_gets_a_secret_shown_once(
    admin_client, workspace, resolves_to
):
    resolves_to("93.184.215.14")
    data = form_for(webhook_connection(workspace), name="Shop hooks", slug="shop-hooks",
                    provider="webhook", base_url="https://shop.example/hooks")  # fmt: skip
    response = admin_client.post(reverse("admin:sync_connection_add"), data)
    page = response.content.decode()
    added = Connection.objects.get(slug="shop-hooks")
    [secret] = live_secrets(added)
    assert response.status_code == 200 and secret in page and "only time" in page
    assert "no-store" in response["Cache-Control"]
    change_page = admin_client.get(reverse("admin:sync_connection_change", args=[added.pk]))
    assert secret not in change_page.content.decode()


def test_testing_a_webhook_connection_without_a_secret_says_why(admin_client, workspace):
    conn = webhook_connection(workspace, credentials={})
    response = admin_client.post(
        reverse("admin:sync_connection_changelist"),
        {"action": "test_connections", "_selected_action": [conn.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "no live signing secret" in response.content.decode()


def test_the_connections_test_command_reports_instead_of_a_traceback(workspace):
    from django.core.management import CommandError, call_command

    conn = webhook_connection(workspace, credentials={"secrets": "garbage"})
    with pytest.raises(CommandError, match="no live signing secret"):
        call_command("connections", "test", conn.slug)
