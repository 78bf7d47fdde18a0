"""The admin's "Add a connection from a preset": the same connection as `connections add`,
its credentials tested first, nothing kept when the partner refuses them."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from sync.models import Connection, FieldMapping, RestPreset

pytestmark = pytest.mark.django_db
URL = "https://signage.example"


def _form(workspace, **changes) -> dict:
    preset = RestPreset.objects.get(slug="signage")
    data = {"preset": preset.pk, "name": "Signage", "workspace": workspace.pk, "base_url": URL,
            "api_key": "sk-live", "paths_confirmed": "on"}  # fmt: skip
    return {**data, **changes}


def _comparable(conn: Connection) -> dict:
    columns = ("object_type", "mirror_field", "remote_path", "direction", "transform", "position")
    mappings = list(FieldMapping.objects.filter(connection=conn).values_list(*columns))
    directions = {f"{t}_direction": getattr(conn, f"{t}_direction")
                  for t in ("users", "contacts", "tasks", "notes", "appointments")}  # fmt: skip
    return {"options": conn.options, "credentials": conn.credentials, "provider": conn.provider,
            "base_url": conn.base_url, "mappings": mappings, **directions}  # fmt: skip


def test_a_preset_connection_from_the_admin_equals_the_commands(admin_client, workspace, remote):
    remote.get(URL + "/api/v1/users", json=[])
    page = admin_client.get(reverse("admin:sync_connection_from_preset")).content.decode()
    assert "contact.create: POST /api/v1/users" in page  # the paths to confirm are shown
    response = admin_client.post(reverse("admin:sync_connection_from_preset"), _form(workspace))
    from_admin = Connection.objects.get(name="Signage")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:sync_connection_change", args=[from_admin.pk])
    assert remote.calls[0].request.headers["X-API-Key"] == "sk-live"
    call_command("connections", "add", "rest", "--name", "Signage 2", "--base-url", URL,
                 "--preset", "signage", "--api-key", "sk-live", "--workspace", workspace.slug,
                 stdout=io.StringIO())  # fmt: skip
    from_command = Connection.objects.get(name="Signage 2")
    assert _comparable(from_admin) == _comparable(from_command)


def test_refused_credentials_keep_nothing(admin_client, workspace, remote):
    remote.get(URL + "/api/v1/users", status=401, json={"error": "bad key"})
    response = admin_client.post(reverse("admin:sync_connection_from_preset"), _form(workspace))
    assert "The test failed, nothing was saved" in response.content.decode()
    assert not Connection.objects.exists() and not FieldMapping.objects.exists()


def test_missing_secret_and_unconfirmed_paths_are_form_errors(admin_client, workspace):
    data = _form(workspace, api_key="", paths_confirmed="")
    page = admin_client.post(reverse("admin:sync_connection_from_preset"), data).content.decode()
    assert "(api_key auth) needs this" in page
    assert "Confirm the paths listed for this preset first" in page
    assert not Connection.objects.exists()
