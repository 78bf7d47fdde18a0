"""The e-mail sending API connector, as its documents describe it (tests/specs/email-api/):
no create-user call — a user exists once its first e-mail is sent —, updates by user id,
Basic auth, the documented parameter names and codes."""

import base64
import json
from datetime import date

import pytest

from contacts.services import contact_delete, contact_update
from sync.connectors import connector_for
from sync.connectors.email_api import email_hash, platform_id
from sync.engine.push import drain
from sync.models import ChangeStatus, Link, OutboundChange
from tests.factories import ContactFactory
from tests.sync.connectors.factories import MAILER, email_api_connection

pytestmark = pytest.mark.django_db
BY_EMAIL = MAILER + "/user/project/p1/email/ada@example.com"
FIELDS = MAILER + "/userfields/user/u-42"


@pytest.fixture
def conn(workspace):
    return email_api_connection(workspace, options={"project_id": "p1", "platform_id": 1})


def make_contact(workspace, **fields):
    data = {"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com"}
    data.update(gender="female", country="GB", custom_fields={"language": "EN"}, **fields)
    return ContactFactory(workspace=workspace, **data)


def test_a_contact_that_is_not_a_user_yet_sends_no_create(remote, conn, workspace):
    remote.get(BY_EMAIL, status=404, json={"message": "Not found"})
    make_contact(workspace)
    drain()
    assert [(c.request.method, c.request.url) for c in remote.calls] == [("GET", BY_EMAIL)]
    row = OutboundChange.objects.get(connection=conn)
    assert row.status == ChangeStatus.DONE
    assert not Link.objects.filter(connection=conn).exclude(remote_id="").exists()


def test_an_existing_user_is_linked_and_updated_by_user_id(remote, conn, workspace, actor):
    remote.get(BY_EMAIL, json={"id": "u-42", "project_id": "p1", "email": "ada@example.com"})
    remote.put(FIELDS, body="accepted")  # 200 with a plain-text body: accepted
    contact = make_contact(workspace, date_of_birth=date(1990, 1, 1))
    drain()
    lookup, update = (c.request for c in remote.calls)
    expected_auth = "Basic " + base64.b64encode(b"client-7:mk_secret").decode()
    assert lookup.headers["Authorization"] == update.headers["Authorization"] == expected_auth
    fields = json.loads(update.body)
    assert fields["name"] == "Ada Lovelace" and fields["gender"] == "f"
    assert fields["country"] == "GB" and fields["language"] == "en"
    assert fields["platform_id"] == 1 and fields["client_user_id"] == contact.public_id
    assert isinstance(fields["age"], int) and fields["age"] >= 30
    assert "email" not in fields and "platform" not in fields
    assert Link.objects.get(connection=conn, object_id=contact.pk).remote_id == "u-42"

    contact_update(contact, actor=actor, data={"last_name": "King"})
    drain()
    again = remote.calls[-1].request
    assert (again.method, again.url) == ("PUT", FIELDS)  # the link: no second lookup
    assert json.loads(again.body)["name"] == "Ada King"
    assert not any("/users" in c.request.url for c in remote.calls)


def test_platform_from_the_contacts_source(remote, workspace):
    conn = email_api_connection(
        workspace,
        options={"project_id": "p1", "platform_id": 0, "platform_by_source": {"ios": 5}},
    )
    contact = make_contact(workspace, source="iOS")
    assert connector_for(conn).user_fields(contact)["platform_id"] == 5
    other = make_contact(workspace, source="web", email="b@example.com")
    assert connector_for(conn).user_fields(other)["platform_id"] == 0


def test_platform_codes():
    assert [platform_id(v) for v in ("0", "desktop", 3, "android", "iOS")] == [0, 1, 3, 4, 5]
    with pytest.raises(ValueError, match="Unknown platform"):
        platform_id("tv")


def test_a_delete_sends_nothing_unless_an_unsubscribe_source_is_set(remote, conn, workspace, actor):
    contact = make_contact(workspace)
    Link.objects.create(connection=conn, object_type="contact", object_id=contact.pk,
                        remote_id="u-42")  # fmt: skip
    OutboundChange.objects.all().delete()
    contact_delete(contact, actor=actor)
    drain()
    assert len(remote.calls) == 0
    assert OutboundChange.objects.get(connection=conn).status == ChangeStatus.DONE

    conn.options = {**conn.options, "unsubscribe_source_id": 3}
    conn.save()
    remote.post(MAILER + "/unsub/u-42/source/3", json={})
    OutboundChange.objects.update(status=ChangeStatus.PENDING, attempts=0)
    drain()
    assert remote.calls[0].request.url == MAILER + "/unsub/u-42/source/3"


@pytest.mark.parametrize(
    ("status", "expected"), [(401, "failed"), (429, "retrying"), (500, "retrying")]
)
def test_error_classification(remote, conn, workspace, status, expected):
    remote.get(BY_EMAIL, status=status)
    make_contact(workspace)
    drain()
    assert OutboundChange.objects.get(connection=conn).status == expected


def test_update_by_email_uses_the_documented_email_hash(remote, workspace):
    conn = email_api_connection(
        workspace,
        options={
            "project_id": "p 2",
            "endpoints": {"update_by_email": ["PATCH", "/v2/{project_id}/u/{email_hash}"]},
        },
    )
    hashed = email_hash("ada@example.com")
    remote.patch(MAILER + f"/v2/p%202/u/{hashed}", json={})
    connector_for(conn).update_by_email("ada@example.com", {"name": "Ada"})
    assert remote.calls[0].request.method == "PATCH"
    assert hashed == base64.b64encode(b"ada@example.com").decode()
