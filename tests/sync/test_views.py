"""CRM OAuth install and callback (issue 15 rows 1 and 2): operators only, a one-time state
bound to the session, the granted location checked, every page escaped."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from portal.models import AuditEntry, WorkspaceMembership, WorkspaceRole
from sync.connectors.highlevel import oauth as highlevel_oauth
from sync.models import Connection
from tests.factories import WorkspaceFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
CALLBACK = "/oauth/highlevel/callback"
HOSTILE = '<script>alert("xss")</script>'


@pytest.fixture
def oauth_conn(workspace):
    return ConnectionFactory(
        workspace=workspace, credentials={"client_id": "cid", "client_secret": "cs"}
    )


def staff_client(*permissions: str, workspace=None) -> Client:
    """A staff user with these permissions; an operator of `workspace` when one is given."""
    user = User.objects.create_user("operator", password="pw", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    if workspace is not None:
        WorkspaceMembership.objects.create(
            user=user, workspace=workspace, role=WorkspaceRole.OPERATOR
        )
    client = Client()
    client.force_login(user)
    return client


def start_install(client, conn) -> str:
    response = client.get(reverse("sync:highlevel-oauth-install", args=[conn.slug]))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["redirect_uri"] == ["http://testserver/oauth/highlevel/callback"]
    return query["state"][0]


# Long enough never to turn up by chance in a page (its CSRF token is random letters and digits).
ACCESS_TOKEN = "access-token-never-shown-7c1e"


def token_reply(crm, **fields):
    body = {"access_token": ACCESS_TOKEN, "refresh_token": "R1", **fields}
    crm.post(CRM + "/oauth/token", json=body)


def test_install_then_callback_stores_encrypted_tokens(admin_client, crm, oauth_conn, workspace):
    state = start_install(admin_client, oauth_conn)
    token_reply(crm, locationId=workspace.location_id)
    done = admin_client.get(CALLBACK, {"code": "c1", "state": state})
    assert done.status_code == 200 and ACCESS_TOKEN not in done.content.decode()
    assert "Connected" in done.content.decode()
    assert Connection.objects.get(pk=oauth_conn.pk).credentials["refresh_token"] == "R1"


@pytest.mark.parametrize("params", [{}, {"code": "c"}, {"code": "c", "state": "forged"}])
def test_callback_refuses_bad_requests(admin_client, params):
    assert admin_client.get(CALLBACK, params).status_code == 400


def test_callback_reports_a_refused_code_escaped(admin_client, crm, oauth_conn):
    state = start_install(admin_client, oauth_conn)
    crm.post(CRM + "/oauth/token", status=400, json={"error": HOSTILE})
    response = admin_client.get(CALLBACK, {"code": "c", "state": state})
    assert response.status_code == 502
    page = response.content.decode()
    assert HOSTILE not in page and "&lt;script&gt;alert(" in page


def test_the_connection_name_is_escaped_on_the_callback_page(admin_client, crm, oauth_conn):
    Connection.objects.filter(pk=oauth_conn.pk).update(name=HOSTILE)
    state = start_install(admin_client, oauth_conn)
    token_reply(crm, locationId=oauth_conn.workspace.location_id)
    page = admin_client.get(CALLBACK, {"code": "c", "state": state}).content.decode()
    assert HOSTILE not in page and "Connected &lt;script&gt;alert(" in page


# --- row 1: who may install, and a state that cannot be replayed or carried ----------------


def test_install_and_callback_need_a_logged_in_operator(client, oauth_conn):
    install = client.get(reverse("sync:highlevel-oauth-install", args=[oauth_conn.slug]))
    assert install.status_code == 302 and "/admin/login/" in install["Location"]
    callback = client.get(CALLBACK, {"code": "c", "state": "x"})
    assert callback.status_code == 302 and "/admin/login/" in callback["Location"]


def test_staff_without_change_connection_is_403(oauth_conn):
    viewer = staff_client("view_connection")
    url = reverse("sync:highlevel-oauth-install", args=[oauth_conn.slug])
    assert viewer.get(url).status_code == 403
    allowed = Client()
    allowed.force_login(User.objects.create_superuser("root", password="pw"))
    assert allowed.get(url).status_code == 302


def test_an_operator_allowed_to_change_connections_may_install(crm, oauth_conn, workspace):
    operator = staff_client("change_connection", "view_connection", workspace=workspace)
    state = start_install(operator, oauth_conn)
    token_reply(crm, locationId=workspace.location_id)
    assert operator.get(CALLBACK, {"code": "c", "state": state}).status_code == 200


def test_an_operator_of_another_workspace_may_not_install(oauth_conn):
    elsewhere = WorkspaceFactory(name="Elsewhere", location_id="ElsewhereLocation001")
    operator = staff_client("change_connection", "view_connection", workspace=elsewhere)
    url = reverse("sync:highlevel-oauth-install", args=[oauth_conn.slug])
    assert operator.get(url).status_code == 403


def test_a_state_works_once(admin_client, crm, oauth_conn, workspace):
    state = start_install(admin_client, oauth_conn)
    token_reply(crm, locationId=workspace.location_id)
    assert admin_client.get(CALLBACK, {"code": "c", "state": state}).status_code == 200
    replay = admin_client.get(CALLBACK, {"code": "c", "state": state})
    assert replay.status_code == 400
    assert len([c for c in crm.calls if c.request.url.endswith("/oauth/token")]) == 1


def test_a_state_is_bound_to_the_session_that_started_the_install(
    admin_client, crm, oauth_conn, workspace
):
    state = start_install(admin_client, oauth_conn)
    other = Client()
    other.force_login(User.objects.create_superuser("other", password="pw"))
    token_reply(crm, locationId=workspace.location_id)
    assert other.get(CALLBACK, {"code": "c", "state": state}).status_code == 400
    assert "access_token" not in Connection.objects.get(pk=oauth_conn.pk).credentials


def test_a_state_expires_in_minutes(admin_client, crm, oauth_conn, workspace, monkeypatch):
    now = 1_800_000_000.0
    monkeypatch.setattr(highlevel_oauth, "clock", lambda: now)
    state = start_install(admin_client, oauth_conn)
    monkeypatch.setattr(
        highlevel_oauth, "clock", lambda: now + highlevel_oauth.STATE_TTL_SECONDS + 1
    )
    token_reply(crm, locationId=workspace.location_id)
    assert admin_client.get(CALLBACK, {"code": "c", "state": state}).status_code == 400
    assert highlevel_oauth.STATE_TTL_SECONDS <= 900


def test_tokens_for_another_location_are_refused_saved_nowhere_and_audited(
    admin_client, crm, oauth_conn
):
    state = start_install(admin_client, oauth_conn)
    token_reply(crm, locationId="AttackersLocation001")
    response = admin_client.get(CALLBACK, {"code": "c", "state": state})
    assert response.status_code == 403
    assert "AttackersLocation001" in response.content.decode()
    conn = Connection.objects.get(pk=oauth_conn.pk)
    assert "access_token" not in conn.credentials and conn.location_id != "AttackersLocation001"
    assert "AttackersLocation001" in conn.last_error
    entry = AuditEntry.objects.get(action="refuse", object_type="sync.connection")
    assert entry.actor_label == "admin" and "AttackersLocation001" in str(entry.changes)


def test_a_company_token_must_name_the_connections_company(admin_client, crm, workspace):
    conn = ConnectionFactory(
        workspace=workspace,
        company_id="Comp1",
        credentials={"client_id": "c", "client_secret": "s"},
    )
    state = start_install(admin_client, conn)
    token_reply(crm, companyId="OtherCompany")
    assert admin_client.get(CALLBACK, {"code": "c", "state": state}).status_code == 403
    state = start_install(admin_client, conn)
    token_reply(crm, companyId="Comp1")
    assert admin_client.get(CALLBACK, {"code": "c", "state": state}).status_code == 200
