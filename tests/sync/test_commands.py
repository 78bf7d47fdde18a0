import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from portal.models import AuditEntry, Workspace
from sync.models import ChangeStatus, Connection, OutboundChange
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_add_highlevel_creates_the_workspace_and_stores_the_token_encrypted():
    out = run("connections", "add", "highlevel", "--name", "Main CRM", "--base-url", CRM,
              "--token", "pit-123", "--location-id", "LOC9")  # fmt: skip
    conn = Connection.objects.get()
    assert "Added connection main-crm" in out
    assert conn.workspace == Workspace.objects.get(location_id="LOC9")
    assert conn.credentials == {"token": "pit-123"} and conn.primary
    entry = AuditEntry.objects.get(object_type="sync.connection")
    assert "pit-123" not in json.dumps(entry.changes)
    assert "main-crm" in run("connections", "list")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--location-id", "L"], "Give --token"),
        (["--location-id", "L", "--token", "t", "--base-url", "ftp://x"], "not an http"),
    ],
)
def test_add_refuses_bad_input(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("connections", "add", "highlevel", "--name", "X", *args)


def test_connection_test_command(crm):
    conn = ConnectionFactory(scopes="contacts.readonly")
    crm.get(CRM + "/contacts/", json={"contacts": []})
    assert "OK" in run("connections", "test", conn.slug)
    crm.replace("GET", CRM + "/contacts/", status=403, json={"message": "scope"})
    with pytest.raises(CommandError, match="403"):
        run("connections", "test", conn.slug)
    with pytest.raises(CommandError, match="No connection named"):
        run("connections", "test", "nope")


def test_status_drain_and_replay(crm, workspace):
    conn = ConnectionFactory(workspace=workspace)
    crm.post(CRM + "/contacts/", status=422, json={"message": "bad"})
    ContactFactory(workspace=workspace)
    status = json.loads(run("sync_status", "--json"))
    assert status[0]["connection"] == conn.slug and status[0]["pending"] == 1
    assert "Processed 1 row(s); 0 due left." in run("sync_drain", "--timeout", "5")
    assert json.loads(run("sync_status", "--json"))[0]["failed"] == 1
    assert "failed" in run("sync_status")
    assert "Re-queued 1 row(s)" in run("replay", "--connection", conn.slug, "--status", "failed")
    assert OutboundChange.objects.get().status == ChangeStatus.PENDING
    with pytest.raises(CommandError, match="not an ISO 8601"):
        run("replay", "--since", "yesterday")


def test_replay_since_takes_a_duration_like_backfill(crm, workspace):
    conn = ConnectionFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace)
    OutboundChange.objects.filter(object_id=contact.pk).update(status=ChangeStatus.DEAD)
    assert "Re-queued 1 row(s)" in run("replay", "--since", "1h", "--connection", conn.slug)
    OutboundChange.objects.update(status=ChangeStatus.DEAD,
                                  updated_at=timezone.now() - timedelta(hours=3))  # fmt: skip
    assert "Re-queued 0 row(s)" in run("replay", "--since", "2h")


def test_backfill_help_says_contacts_are_the_default(capsys):
    from django.core.management import get_commands, load_command_class

    command = load_command_class(get_commands()["backfill"], "backfill")
    help_text = command.create_parser("manage.py", "backfill").format_help()
    assert "default: contacts only" in " ".join(help_text.split())


def test_import_courses_command(crm, tmp_path):
    conn = ConnectionFactory()
    crm.post(CRM + "/courses/courses-exporter/public/import", json={}, status=201)
    export = tmp_path / "courses.json"
    export.write_text(
        json.dumps({"products": [{"title": "C", "description": "D", "categories": []}]})
    )
    assert "Imported courses" in run("import_courses", conn.slug, str(export))
    export.write_text("not json")
    with pytest.raises(CommandError):
        run("import_courses", conn.slug, str(export))
