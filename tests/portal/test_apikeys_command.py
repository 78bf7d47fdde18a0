"""`apikeys create|rotate|revoke|list` and the key services behind them."""

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from portal.apikeys import find_usable_key
from portal.models import ApiKey, AuditEntry
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("apikeys", *args, stdout=out)
    return out.getvalue()


def test_create_prints_the_secret_once_and_stores_its_hash(workspace):
    output = run("create", "--name", "signage", "--scopes", "contacts.readonly,tasks.write")
    token = output.split()[-1]
    key = ApiKey.objects.get(name="signage")
    assert token.startswith(f"psk_{key.prefix}_")
    assert find_usable_key(token) == key
    assert key.scopes == ["contacts.readonly", "tasks.write"]
    assert list(key.workspaces.all()) == [workspace]
    assert key.expires_at is None
    assert token.rsplit("_", 1)[1] not in key.secret_hash
    entry = AuditEntry.objects.get(object_type="portal.apikey", action="create")
    assert entry.actor_kind == "system" and entry.changes["scopes"][1] == key.scopes
    assert token not in run("list") and key.prefix in run("list")


def test_create_with_expiry_and_named_workspaces(workspace):
    other = WorkspaceFactory(name="Other")
    run(
        "create", "--name", "n", "--scopes", "users.readonly", "--expires-in", "90d",
        "--workspace", workspace.slug, "--workspace", other.location_id,
    )  # fmt: skip
    key = ApiKey.objects.get(name="n")
    assert set(key.workspaces.all()) == {workspace, other}
    assert abs(key.expires_at - timezone.now() - datetime.timedelta(days=90)).total_seconds() < 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scopes", "contacts.delete"], "Unknown scopes: contacts.delete"),
        (["--scopes", ""], "Give a scope"),
        (["--scopes", "users.write", "--expires-in", "soon"], "Bad duration"),
        (["--scopes", "users.write", "--workspace", "nowhere"], "No workspace 'nowhere'"),
    ],
)
def test_create_refuses_bad_input(workspace, args, message):
    with pytest.raises(CommandError, match=message):
        run("create", "--name", "bad", *args)
    assert not ApiKey.objects.exists()


def test_create_needs_a_workspace_when_there_are_several(workspace):
    WorkspaceFactory()
    with pytest.raises(CommandError, match="--workspace"):
        run("create", "--name", "x", "--scopes", "users.write")


def test_names_are_unique_among_current_keys(workspace):
    run("create", "--name", "dup", "--scopes", "users.write")
    with pytest.raises(CommandError, match="exists"):
        run("create", "--name", "dup", "--scopes", "users.write")


def test_rotate_and_revoke(workspace):
    old_token = run("create", "--name", "k", "--scopes", "users.write").split()[-1]
    new_token = run("rotate", "--name", "k", "--grace", "1h").split()[-1]
    assert new_token != old_token
    assert find_usable_key(old_token) and find_usable_key(new_token)
    old = find_usable_key(old_token)
    assert old.expires_at - timezone.now() <= datetime.timedelta(hours=1)
    assert "rotated (grace)" in run("list")
    assert "Revoked 2 key(s)" in run("revoke", "--name", "k")
    assert find_usable_key(old_token) is None and find_usable_key(new_token) is None
    with pytest.raises(CommandError, match="No current key"):
        run("rotate", "--name", "k")
    with pytest.raises(CommandError, match="No unrevoked key"):
        run("revoke", "--name", "k")
    assert "revoked" in run("list")


def test_list_says_so_when_there_are_no_keys():
    assert run("list") == "No API keys.\n"
