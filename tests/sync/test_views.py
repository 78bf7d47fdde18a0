from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from sync.models import Connection
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def oauth_conn(workspace):
    return ConnectionFactory(
        workspace=workspace, credentials={"client_id": "cid", "client_secret": "cs"}
    )


def test_install_then_callback_stores_encrypted_tokens(admin_client, client, crm, oauth_conn):
    response = admin_client.get(reverse("sync:highlevel-oauth-install", args=[oauth_conn.slug]))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["redirect_uri"] == ["http://testserver/oauth/highlevel/callback"]
    crm.post(CRM + "/oauth/token", json={"access_token": "A1", "refresh_token": "R1"})
    done = client.get("/oauth/highlevel/callback", {"code": "c1", "state": query["state"][0]})
    assert done.status_code == 200 and "A1" not in done.content.decode()
    assert Connection.objects.get(pk=oauth_conn.pk).credentials["refresh_token"] == "R1"


@pytest.mark.parametrize("params", [{}, {"code": "c"}, {"code": "c", "state": "forged"}])
def test_callback_refuses_bad_requests(client, params):
    assert client.get("/oauth/highlevel/callback", params).status_code == 400


def test_callback_reports_a_refused_code(client, crm, oauth_conn):
    from sync.connectors.highlevel_oauth import install_url

    state = parse_qs(urlsplit(install_url(oauth_conn, "http://x/cb", [])).query)["state"][0]
    crm.post(CRM + "/oauth/token", status=400, json={"error": "invalid_grant"})
    assert client.get("/oauth/highlevel/callback", {"code": "c", "state": state}).status_code == 502


def test_install_needs_staff(client, oauth_conn):
    response = client.get(reverse("sync:highlevel-oauth-install", args=[oauth_conn.slug]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
