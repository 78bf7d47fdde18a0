"""Issue 15, row 5: a partner key sent in a custom header (and echoed by the partner) was kept
in clear in delivery attempts; redaction matched header names, not values."""

import logging

import pytest

from sync.engine.push import drain
from sync.models import Connection, DeliveryAttempt, OutboundChange
from sync.transport.http import HttpClient, RemoteError
from tests.factories import ContactFactory
from tests.sync.connectors.test_rest import rest_connection

pytestmark = pytest.mark.django_db
BASE = "https://partner.example"
KEY = "sk_live_Partner+Key/0123456789"


def stored_text() -> str:
    rows = [
        f"{a.path} {a.request_excerpt} {a.response_excerpt} {a.error}"
        for a in DeliveryAttempt.objects.all()
    ]
    rows += [c.last_error for c in OutboundChange.objects.all()]
    rows += [c.last_error for c in Connection.objects.all()]
    return "\n".join(rows)


def assert_nowhere(text: str) -> None:
    for form in (KEY, "sk_live_Partner%2BKey%2F0123456789", "sk_live_Partner\\u002bKey"):
        assert form not in text
    assert "0123456789" not in text  # not even the end of it after a cut


def test_a_custom_auth_header_and_its_echo_are_masked(remote, workspace):
    conn = rest_connection(workspace, "signage", auth_type="api_key", api_key_header="X-Shop")
    Connection.objects.filter(pk=conn.pk).update(credentials={"api_key": KEY})
    conn.refresh_from_db()
    echo = {"message": f"unknown key {KEY}", "padding": "x" * 1990, "again": KEY}
    remote.get(BASE + "/echo", status=401, json=echo)
    client = HttpClient(conn, auth=lambda: {"X-Shop": KEY}, headers={"X-Trace": KEY})
    with pytest.raises(RemoteError) as raised:
        client.request("GET", "/echo", params={"q": KEY}, json={"note": f"my key is {KEY}"})
    assert remote.calls[0].request.headers["X-Shop"] == KEY  # sent as it must be
    assert_nowhere(stored_text() + raised.value.message + str(raised.value))
    attempt = DeliveryAttempt.objects.get()
    assert "••••••" in attempt.request_excerpt and "••••••" in attempt.response_excerpt


def test_a_push_whose_partner_echoes_the_key_keeps_it_nowhere(remote, workspace, caplog):
    conn = rest_connection(workspace, "signage", auth_type="api_key", api_key_header="X-Shop")
    Connection.objects.filter(pk=conn.pk).update(credentials={"api_key": KEY})
    remote.post(BASE + "/api/v1/users", status=403, json={"error": f"key {KEY} is disabled"})
    caplog.set_level(logging.DEBUG)
    ContactFactory(workspace=workspace, email="ada@example.com")
    drain()
    assert remote.calls and remote.calls[0].request.headers["X-Shop"] == KEY
    assert OutboundChange.objects.get().last_error  # the failure is recorded...
    assert_nowhere(stored_text() + caplog.text)  # ...without the key
