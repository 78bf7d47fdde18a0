"""The API key admin: the secret is shown once on the page, never stored; changes audited."""

import pytest
from django.contrib.messages import get_messages

from portal.apikeys import find_usable_key
from portal.models import ApiKey, AuditEntry

pytestmark = pytest.mark.django_db
URL = "/admin/portal/apikey/"


def token_on(response) -> str:
    content = response.content.decode()
    start = content.index('class="api-key-secret">') + len('class="api-key-secret">')
    return content[start : content.index("<", start)]


def test_add_shows_the_secret_once(admin_client, workspace):
    response = admin_client.post(
        f"{URL}add/",
        {"name": "store", "scopes": ["contacts.write"], "workspaces": [workspace.pk]},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = token_on(response)
    key = ApiKey.objects.get(name="store")
    assert find_usable_key(token) == key
    assert key.created_by.username == "admin"
    assert not list(get_messages(response.wsgi_request))
    page = admin_client.get(f"{URL}{key.pk}/change/").content.decode()
    assert token not in page and key.secret_hash not in page
    assert AuditEntry.objects.filter(object_type="portal.apikey", action="create").count() == 1


def test_edit_is_audited_including_workspaces(admin_client, api_key, workspace):
    from tests.factories import WorkspaceFactory

    key, _token = api_key
    other = WorkspaceFactory(name="Other")
    response = admin_client.post(
        f"{URL}{key.pk}/change/",
        {"name": key.name, "scopes": ["users.readonly"], "workspaces": [workspace.pk, other.pk]},
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(object_type="portal.apikey", action="update")
    assert entry.changes["scopes"][1] == ["users.readonly"]
    assert entry.changes["workspaces"] == [[workspace.slug], sorted([workspace.slug, other.slug])]
    assert entry.actor_kind == "operator"


def test_rotate_and_revoke_actions(admin_client, api_key):
    key, old_token = api_key
    response = admin_client.post(URL, {"action": "rotate_keys", "_selected_action": [key.pk]})
    new_token = token_on(response)
    new = find_usable_key(new_token)
    assert new.rotated_from == key and find_usable_key(old_token) == key
    admin_client.post(URL, {"action": "revoke_keys", "_selected_action": [key.pk, new.pk]})
    assert find_usable_key(old_token) is None and find_usable_key(new_token) is None
    assert admin_client.post(f"{URL}{key.pk}/delete/").status_code == 403  # revoke, never delete


# Issue 15, row 3: revoking a rotated key left its predecessor working for the rest of the grace.
@pytest.mark.parametrize("selected", ["new", "old"])
def test_revoking_one_key_revokes_its_whole_rotation_chain(admin_client, api_key, selected):
    key, old_token = api_key
    response = admin_client.post(URL, {"action": "rotate_keys", "_selected_action": [key.pk]})
    new = find_usable_key(new_token := token_on(response))
    third = token_on(
        admin_client.post(URL, {"action": "rotate_keys", "_selected_action": [new.pk]})
    )
    assert find_usable_key(old_token) and find_usable_key(new_token) and find_usable_key(third)
    chosen = new if selected == "new" else key
    admin_client.post(URL, {"action": "revoke_keys", "_selected_action": [chosen.pk]})
    assert [find_usable_key(t) for t in (old_token, new_token, third)] == [None, None, None]
    revokes = AuditEntry.objects.filter(object_type="portal.apikey", changes__has_key="revoked_at")
    assert revokes.count() == 3


def test_the_command_revokes_through_the_same_chain_service(api_key, monkeypatch):
    from django.core.management import call_command

    from portal import apikeys

    key, token = api_key
    seen = []
    original = apikeys.apikey_revoke_chain
    monkeypatch.setattr(
        apikeys, "apikey_revoke_chain", lambda **kw: seen.append(kw["key"]) or original(**kw)
    )
    call_command("apikeys", "revoke", "--name", key.name)
    assert seen == [key] and find_usable_key(token) is None
