"""`connections add rest|webhook|email_api|notifications`: options, validation, output."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from standardwebhooks import Webhook

from portal.models import AuditEntry
from sync.connectors.webhook import EVENT_TYPES
from sync.models import Connection, FieldMapping
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def add(*args) -> str:
    out = io.StringIO()
    call_command("connections", "add", *args, stdout=out)
    return out.getvalue()


def test_add_webhook_prints_its_secret_once_and_stores_it_encrypted(workspace):
    out = add("webhook", "--name", "Partner", "--url", "https://partner.example/in",
              "--events", "contact.created,contact.deleted")  # fmt: skip
    conn = Connection.objects.get(provider="webhook")
    secret = conn.credentials["secrets"][0]["secret"]
    assert f"Signing secret (shown once, give it to the partner): {secret}" in out
    Webhook(secret)  # a valid whsec_ secret for the reference library
    assert conn.options["event_types"] == ["contact.created", "contact.deleted"]
    assert conn.contacts_direction == "out" and conn.tasks_direction == "off"
    assert secret not in json.dumps(list(AuditEntry.objects.values_list("changes", flat=True)))


def test_add_webhook_defaults_to_every_event_and_refuses_unknown_ones(workspace):
    add("webhook", "--name", "All", "--url", "https://partner.example/in")
    assert Connection.objects.get().options["event_types"] == EVENT_TYPES
    with pytest.raises(CommandError, match="Unknown event type"):
        add("webhook", "--name", "Bad", "--url", "https://p.example/", "--events", "deal.won")


def test_add_email_api(workspace):
    out = add("email_api", "--name", "Mailer", "--base-url", "https://mailer.example",
        "--client-id", "c1", "--api-key", "k1", "--project-id", "p9", "--platform", "ios",
        "--list-id", "news")  # fmt: skip
    assert "/webhooks/email/mailer/" in out
    conn = Connection.objects.get()
    token = conn.credentials.pop("webhook_token")
    assert token in out
    assert conn.credentials == {"client_id": "c1", "api_key": "k1"} and len(token) >= 24
    assert conn.options == {"project_id": "p9", "platform_id": 5, "list_id": "news"}
    assert conn.users_direction == "off"


def test_add_notifications(workspace):
    add("notifications", "--name", "Push", "--base-url", "https://notify.example",
        "--api-key", "nk")  # fmt: skip
    assert Connection.objects.get().credentials == {"api_key": "nk"}


def test_add_rest_from_a_preset_lists_the_paths_to_confirm(workspace):
    out = add("rest", "--name", "Signage", "--base-url", "https://signage.example",
              "--preset", "signage", "--api-key", "sk", "--api-key-header", "X-Key")  # fmt: skip
    conn = Connection.objects.get()
    assert "Confirm these paths" in out and "contact.create: POST /api/v1/users" in out
    assert conn.options["auth"] == {"type": "api_key", "header": "X-Key", "prefix": ""}
    assert conn.options["preset"] == "signage"
    assert FieldMapping.objects.filter(connection=conn).count() == 5


def test_add_rest_from_a_config_file(workspace, tmp_path):
    config = {
        "config": {"objects": {"contact": {"create": {"method": "POST", "path": "/people"}}}},
        "mappings": {"contact": [{"mirror_field": "email", "remote_path": "mail"}]},
    }
    path = tmp_path / "partner.json"
    path.write_text(json.dumps(config))
    add("rest", "--name", "Custom", "--base-url", "https://custom.example", "--config",
        str(path), "--token", "t")  # fmt: skip
    conn = Connection.objects.get()
    assert conn.credentials == {"token": "t"} and conn.options["auth"] == {"type": "bearer"}
    assert FieldMapping.objects.get(connection=conn).remote_path == "mail"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rest", "--preset", "signage"], "needs --api-key"),
        (["rest", "--preset", "nope", "--token", "t"], "No REST preset"),
        (["notifications", "--api-key", "k", "--base-url", "http://127.0.0.1:9000"], "loopback"),
        (["webhook", "--url", "http://169.254.169.254/latest"], "link-local"),
        (
            [
                "email_api",
                "--client-id",
                "c",
                "--api-key",
                "k",
                "--project-id",
                "p",
                "--base-url",
                "ftp://mailer.example",
            ],
            "not an http",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(workspace, args, message):
    if "--base-url" not in args and "--url" not in args:
        args = [*args, "--base-url", "https://partner.example"]
    with pytest.raises(CommandError, match=message):
        add(args[0], "--name", "X", *args[1:])
    assert not Connection.objects.exists()


def test_private_targets_need_the_explicit_flag(workspace):
    add("webhook", "--name", "Local", "--url", "http://127.0.0.1:9000/in",
        "--allow-private-network")  # fmt: skip
    assert Connection.objects.get().options["allow_private_network"] is True


def test_workspace_is_required_when_several_exist(workspace):
    WorkspaceFactory()
    with pytest.raises(CommandError, match="give --workspace"):
        add("notifications", "--name", "P", "--base-url", "https://n.example", "--api-key", "k")
    add("notifications", "--name", "P", "--base-url", "https://n.example", "--api-key", "k",
        "--workspace", workspace.slug)  # fmt: skip
    assert Connection.objects.get().workspace == workspace
