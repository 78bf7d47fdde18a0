"""The e-mail sending API connector: Basic auth, address check first, users per project."""

import base64
import json

import pytest

from contacts.services import contact_delete, contact_update
from sync.connectors import connector_for
from sync.models import ChangeStatus, Link, OutboundChange
from sync.push import drain
from tests.factories import ContactFactory
from tests.sync.connectors.factories import MAILER, email_api_connection

pytestmark = pytest.mark.django_db
USERS = MAILER + "/v1/projects/p1/users"
CHECK = MAILER + "/v1/email/check"


@pytest.fixture
def conn(workspace):
    return email_api_connection(workspace)


def make_contact(workspace, **fields):
    data = {"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com"}
    data.update(gender="female", country="GB", custom_fields={"language": "en"}, **fields)
    return ContactFactory(workspace=workspace, **data)


def checks(remote, normalised="ada@example.com", valid=True):
    remote.post(CHECK, json={"email": normalised, "valid": valid})


def test_create_update_delete_send_exact_requests(remote, conn, workspace, actor):
    checks(remote)
    remote.post(USERS, json={"id": "u-42"})
    contact = make_contact(workspace)
    drain()
    check, create = remote.calls[0].request, remote.calls[1].request
    expected_auth = "Basic " + base64.b64encode(b"client-7:mk_secret").decode()
    assert check.headers["Authorization"] == create.headers["Authorization"] == expected_auth
    assert json.loads(check.body) == {"email": "Ada@example.com"}
    assert (create.method, create.url) == ("POST", USERS)
    assert json.loads(create.body) == {
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "gender": "female",
        "country": "GB",
        "language": "en",
        "client_user_id": contact.public_id,
        "platform": "web",
        "list": "newsletter",
    }
    assert Link.objects.get(connection=conn, object_id=contact.pk).remote_id == "u-42"

    remote.put(USERS + "/u-42", body="accepted")  # 200 with a plain-text body: success
    contact_update(contact, actor=actor, data={"last_name": "King"})
    drain()
    update = remote.calls[3].request
    assert (update.method, update.url) == ("PUT", USERS + "/u-42")
    assert json.loads(update.body)["name"] == "Ada King"
    assert not OutboundChange.objects.exclude(status=ChangeStatus.DONE).exists()

    remote.delete(USERS + "/u-42")
    contact_delete(contact, actor=actor)
    drain()
    assert (remote.calls[4].request.method, remote.calls[4].request.url) == (
        "DELETE",
        USERS + "/u-42",
    )


def test_the_remote_normalises_the_address_before_it_is_sent(remote, conn, workspace):
    checks(remote, normalised="ada.lovelace@example.com")
    remote.post(USERS, json={"id": "u-1"})
    make_contact(workspace)
    drain()
    assert json.loads(remote.calls[1].request.body)["email"] == "ada.lovelace@example.com"


def test_an_address_the_check_refuses_fails_permanently(remote, conn, workspace):
    checks(remote, valid=False)
    make_contact(workspace)
    drain()
    row = OutboundChange.objects.get(connection=conn)
    assert row.status == ChangeStatus.FAILED and "was refused" in row.last_error
    assert len(remote.calls) == 1


def test_unknown_outcome_finds_the_user_by_email(remote, conn, workspace):
    checks(remote)
    remote.post(USERS, status=504)
    make_contact(workspace)
    drain()
    remote.get(USERS + "/by-email/ada@example.com", json={"id": "u-9"})
    remote.put(USERS + "/u-9", json={})
    row = OutboundChange.objects.get(connection=conn)
    assert row.status == ChangeStatus.RETRYING
    OutboundChange.objects.filter(pk=row.pk).update(available_at=row.created_at)
    drain()
    calls = [(c.request.method, c.request.url.removeprefix(MAILER)) for c in remote.calls]
    without_checks = [c for c in calls if c[1] != "/v1/email/check"]
    assert without_checks[-2:] == [
        ("GET", "/v1/projects/p1/users/by-email/ada@example.com"),
        ("PUT", "/v1/projects/p1/users/u-9"),
    ]


@pytest.mark.parametrize(
    ("status", "expected"), [(401, "failed"), (429, "retrying"), (500, "retrying")]
)
def test_error_classification(remote, conn, workspace, status, expected):
    checks(remote)
    remote.post(USERS, status=status)
    make_contact(workspace)
    drain()
    assert OutboundChange.objects.get(connection=conn).status == expected


def test_endpoints_are_configurable_per_connection(remote, workspace):
    conn = email_api_connection(
        workspace,
        options={
            "project_id": "p 2",
            "endpoints": {"update_email": ["PATCH", "/v2/{project_id}/u/{email}"]},
        },
    )
    checks(remote)
    remote.patch(MAILER + "/v2/p%202/u/ada@example.com", json={})
    connector_for(conn).update_by_email("ada@example.com", {"email": "ada@example.com"})
    assert remote.calls[1].request.method == "PATCH"
