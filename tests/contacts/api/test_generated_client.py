"""A partner's generated client works: openapi-python-client builds one from /api/schema/, and
that client lists, creates with an idempotency key and reads an error from the live API."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.factories import ContactFactory

PACKAGE = "portal_partner_client"


@pytest.fixture(scope="session")
def client_package(tmp_path_factory):
    """Generated once per test session (it takes seconds), importable as PACKAGE."""
    root = tmp_path_factory.mktemp("generated")
    schema = root / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(schema))
    generator = Path(sys.executable).with_name("openapi-python-client")
    command = [str(generator), "generate", "--path", str(schema), "--meta", "none"]
    run = subprocess.run(
        [*command, "--output-path", str(root / PACKAGE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=root,
    )
    assert (root / PACKAGE / "client.py").is_file(), run.stdout + run.stderr
    sys.path.insert(0, str(root))
    yield PACKAGE
    sys.path.remove(str(root))


def _module(package: str, name: str):
    return importlib.import_module(f"{package}.{name}")


@pytest.mark.django_db(transaction=True)
def test_the_generated_client_lists_creates_idempotently_and_reads_errors(
    client_package, live_server, api_key, workspace
):
    existing = ContactFactory(workspace=workspace, email="first@example.com")
    client_module = _module(client_package, "client")
    models = _module(client_package, "models")
    contacts_list = _module(client_package, "api.contacts.contacts_list")
    contacts_create = _module(client_package, "api.contacts.contacts_create")
    contacts_retrieve = _module(client_package, "api.contacts.contacts_retrieve")
    client = client_module.AuthenticatedClient(base_url=live_server.url, token=api_key[1])

    page = contacts_list.sync(client=client)
    assert [contact.id for contact in page.results] == [existing.public_id]

    body = models.ContactInputRequest(email="new@example.com", first_name="New")
    created = contacts_create.sync_detailed(client=client, body=body, idempotency_key="k-1")
    again = contacts_create.sync_detailed(client=client, body=body, idempotency_key="k-1")
    assert (created.status_code, again.status_code) == (201, 201)
    assert isinstance(created.parsed, models.ContactOutput)
    assert again.parsed.id == created.parsed.id and again.headers["Idempotent-Replayed"] == "true"
    assert created.parsed.email == "new@example.com"

    missing = contacts_retrieve.sync_detailed("ct_doesnotexist", client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.ErrorBody)
    assert missing.parsed.error.code == models.ErrorCodeEnum.NOT_FOUND
    assert missing.headers["X-Request-ID"]
