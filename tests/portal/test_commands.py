from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from portal.envfile import write_env_file
from portal.models import AuditEntry, Workspace

pytestmark = pytest.mark.django_db


def _call(*args, **kwargs) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_workspaces_add_and_list():
    assert "Added workspace north" in _call(
        "workspaces", "add", "--name", "North", "--location-id", "locNorth"
    )
    workspace = Workspace.objects.get(location_id="locNorth")
    assert workspace.slug == "north"
    assert AuditEntry.objects.filter(object_type="portal.workspace", action="create").exists()
    assert "north\tlocNorth\tNorth" in _call("workspaces", "list")


def test_workspaces_add_refuses_a_duplicate_location():
    _call("workspaces", "add", "--name", "North", "--location-id", "locNorth")
    with pytest.raises(CommandError, match="locNorth"):
        _call("workspaces", "add", "--name", "Other", "--location-id", "locNorth")


def test_ensure_admin_prints_a_generated_password_once(monkeypatch):
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    first = _call("ensure_admin")
    password = first.split("with password ")[1].split()[0]
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.check_password(password)
    assert Workspace.objects.count() == 1
    second = _call("ensure_admin")
    assert password not in second
    assert get_user_model().objects.count() == 1 and Workspace.objects.count() == 1


def test_ensure_admin_takes_admin_password(monkeypatch):
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-chosen-passphrase")
    output = _call("ensure_admin")
    assert "a-long-chosen-passphrase" not in output
    assert get_user_model().objects.get(username="admin").check_password("a-long-chosen-passphrase")


def test_env_file_is_written_once_with_fresh_secrets(tmp_path):
    target = tmp_path / ".env"
    assert write_env_file(target) is True
    content = target.read_text()
    assert all(f"\n{name}=" in content for name in ("SECRET_KEY", "FERNET_KEYS", "API_KEY_PEPPER"))
    assert target.stat().st_mode & 0o077 == 0, "only the owner may read the secrets"
    assert write_env_file(target) is False
    assert target.read_text() == content
    other = tmp_path / "other.env"
    write_env_file(other)
    assert other.read_text() != content, "every install gets its own secrets"


def test_workspace_changes_in_admin_are_audited(admin_client, admin_user):
    response = admin_client.post(
        "/admin/portal/workspace/add/", {"name": "South", "slug": "south", "location_id": "locS"}
    )
    assert response.status_code == 302
    workspace = Workspace.objects.get(location_id="locS")
    admin_client.post(
        f"/admin/portal/workspace/{workspace.pk}/change/",
        {"name": "South Branch", "slug": "south", "location_id": "locS"},
    )
    entries = AuditEntry.objects.filter(object_type="portal.workspace", object_id=str(workspace.pk))
    assert list(entries.order_by("id").values_list("action", flat=True)) == ["create", "update"]
    update = entries.get(action="update")
    assert update.changes == {"name": ["South", "South Branch"]}
    assert update.actor_label == admin_user.username


def test_an_env_file_without_a_pepper_gets_a_note(tmp_path):
    from portal.envfile import missing_pepper_note, write_env_file

    fresh = tmp_path / "fresh.env"
    write_env_file(fresh)
    assert missing_pepper_note(fresh) == ""
    old = tmp_path / "old.env"
    old.write_text("DEBUG=1\nSECRET_KEY=abc\n")
    assert "sets no API_KEY_PEPPER" in missing_pepper_note(old)
