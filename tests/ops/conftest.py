"""The sandbox CRM in-process (the CRM's real contract) and a connection to it."""

import logging
from typing import Any

import pytest

from sandbox import DEFAULT_TOKEN, SandboxCRM, directory
from sandbox.util import iso_from_ms, new_id
from tests.sync.factories import CRM_BASE_URL, ConnectionFactory
from tests.sync.highlevel_spec import assert_valid_crm_request


@pytest.fixture
def crm(tmp_path, workspace, settings):
    logging.getLogger("sandbox_crm").setLevel(logging.WARNING)  # one line per request otherwise
    # A stand-in CRM on loopback is allowed explicitly, as an operator would (SSRF guard).
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]
    sandbox = SandboxCRM(
        str(tmp_path / "crm.sqlite3"), location_id=workspace.location_id, rate_limit=0
    )
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def conn(crm, workspace):
    # The local limiter is lifted too (a 1 s window keeps the DB limiter's row small).
    return ConnectionFactory(
        workspace=workspace,
        name="Sandbox CRM",
        slug="sandbox-crm",
        base_url=crm.base_url,
        credentials={"token": DEFAULT_TOKEN},
        rate_limit_requests=1_000_000,
        rate_limit_interval_seconds=1,
    )


def seed_children(crm: SandboxCRM, contacts: list[dict[str, Any]], kind: str, **fields) -> int:
    """One task or note per contact, written straight into the sandbox's store (fast)."""
    now = iso_from_ms(crm.core.clock.now_ms())
    for contact in contacts:
        record = {
            "id": new_id(),
            "contactId": contact["id"],
            "locationId": contact["locationId"],
            "dateAdded": now,
            "dateUpdated": now,
            **fields,
        }
        crm.core.store.put(kind, record, parent_id=contact["id"])
    return len(contacts)


@pytest.fixture
def sent(monkeypatch):
    """Every request's path; each is validated against the CRM's OpenAPI files."""
    from sync.transport import http

    paths = []
    send = http._GUARDED_SESSION.send

    def checked_send(prepared, **kwargs):
        as_crm = prepared.copy()
        as_crm.url = CRM_BASE_URL + prepared.path_url  # the spec's server
        assert_valid_crm_request(as_crm)
        paths.append(prepared.path_url.split("?")[0])
        return send(prepared, **kwargs)

    monkeypatch.setattr(http._GUARDED_SESSION, "send", checked_send)
    return paths


def crm_user(crm: SandboxCRM, location_id: str) -> dict[str, Any]:
    """A user of the sandbox CRM with access to `location_id` (Uma User, uma@example.com)."""
    return directory.create_user(
        crm.core,
        {
            "companyId": "c1",
            "firstName": "Uma",
            "lastName": "User",
            "email": "uma@example.com",
            "password": "x" * 12,
            "type": "account",
            "role": "user",
            "locationIds": [location_id],
        },
    )
