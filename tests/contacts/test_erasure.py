"""Erasure: after it, no personal value of the contact is left anywhere in the database (a full
dump and a raw scan of every table), the admin or the API, and every remote got a delete."""

import json
from io import StringIO

import pytest
import responses
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.urls import reverse

from contacts.models import Contact
from ops.models import BackfillRun
from portal.models import AuditAction, AuditEntry
from sync.engine.push import drain
from sync.models import DeliveryAttempt, InboundEvent, Link
from tests import api_fixtures
from tests.api_fixtures import client_for
from tests.factories import ContactFactory, NoteFactory, TaskFactory
from tests.ops import conftest as sandbox_fixtures
from tests.sync.connectors import conftest as connector_fixtures
from tests.sync.connectors.factories import NOTIFY, notifications_connection

pytestmark = pytest.mark.django_db
dns = connector_fixtures.dns  # no real DNS (autouse)
# Fixtures shared with other test packages: the sandbox CRM and partner keys.
crm, conn, make_key = sandbox_fixtures.crm, sandbox_fixtures.conn, api_fixtures.make_key

PERSON = {
    "first_name": "Zebulon",
    "last_name": "Quackenbush",
    "email": "zeb.quackenbush@erasure.example",
    "phone": "+15550199999",
    "address1": "12 Rue Imaginaire",
    "custom_fields": {"nickname": "Zebbie"},
}
VALUES = ["Zebulon", "Quackenbush", "zeb.quackenbush@erasure.example", "+15550199999",
          "5550199999", "Rue Imaginaire", "Zebbie"]  # fmt: skip


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [value for value in VALUES if value.lower() in lowered]


def raw_table_scan() -> str:
    """Every row of every table, as text (what a stolen database file would show)."""
    chunks = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names():
            cursor.execute(f"SELECT * FROM {db.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                chunks.append(" ".join(str(value) for value in row))
    return "\n".join(chunks)


def full_dump() -> str:
    out = StringIO()
    call_command("dumpdata", stdout=out)
    return out.getvalue()


@pytest.fixture
def notify(crm):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as remote:
        remote.add_passthru(crm.base_url)
        remote.post(f"{NOTIFY}/v1/subscribers", status=201, json={"ok": True})
        remote.add(responses.DELETE, f"{NOTIFY}/v1/subscribers/", status=204)
        yield remote


@pytest.fixture
def person(conn, workspace, make_key, notify, admin_user):
    """A contact known everywhere: pushed to the CRM and the notification platform, edited in
    the admin, created through the API with an Idempotency-Key, quoted in a webhook body, a
    backfill page and a backfill failure."""
    notifications_connection(workspace)
    _key, token = make_key(scopes=["contacts.write"])
    created = client_for(token).post(
        "/api/v1/contacts/", PERSON, format="json", HTTP_IDEMPOTENCY_KEY="create-zeb-1"
    )
    assert created.status_code == 201, created.content
    contact = Contact.objects.get(public_id=created.json()["id"])
    TaskFactory(workspace=workspace, contact=contact, title="Call Zebulon back")
    NoteFactory(workspace=workspace, contact=contact, body="Met Zebbie Quackenbush at the fair")
    assert drain()["left"] == 0
    link = Link.objects.get(connection=conn, object_type="contact", object_id=contact.pk)
    crm_record = {"id": link.remote_id, "firstName": "Zebulon", "email": PERSON["email"]}
    InboundEvent.objects.create(
        source="highlevel", source_key="highlevel", webhook_id="wh-1", event_type="ContactUpdate",
        object_type="contact", remote_id=link.remote_id, body=json.dumps(crm_record),
    )  # fmt: skip
    InboundEvent.objects.create(
        source="highlevel", source_key="highlevel", webhook_id="wh-2", event_type="NoteCreate",
        object_type="note", remote_id="other", body=json.dumps({"body": "cc +15550199999"}),
    )  # fmt: skip
    DeliveryAttempt.objects.create(
        connection=conn, method="GET", path="/contacts/", outcome="ok",
        response_excerpt=json.dumps({"contacts": [crm_record, {"firstName": "Other"}]}),
    )  # fmt: skip
    BackfillRun.objects.create(
        connection=conn, status="done", errors=[f"contact x: {PERSON['email']} is taken"]
    )
    LogEntry.objects.create(
        user=admin_user, content_type=ContentType.objects.get_for_model(Contact),
        object_id=str(contact.pk), object_repr=str(contact), action_flag=CHANGE,
        change_message="Changed city.",
    )  # fmt: skip
    assert leaks(raw_table_scan()) and leaks(full_dump())  # the test can see a leak
    return contact, link


def test_erasure_leaves_no_personal_value_and_deletes_everywhere(
    person,
    crm,
    conn,
    workspace,
    make_key,
    notify,
    admin_client,
):
    contact, link = person
    bystander = ContactFactory(workspace=workspace, first_name="Ann", email="ann@example.com")
    url = f"/api/v1/contacts/{contact.public_id}/erase"
    _writer, write_token = make_key(scopes=["contacts.write"])
    refused = client_for(write_token).post(url)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "missing_scope"
    _eraser, token = make_key(scopes=["contacts.erase"], name="dpo-tool")
    response = client_for(token).post(url)
    assert response.status_code == 200 and response.json()["deleted_at"]
    assert not leaks(response.content.decode())

    assert drain()["left"] == 0
    assert crm.get_contact(link.remote_id) is None or crm.get_contact(link.remote_id)["deleted"]
    deletes = [c.request for c in notify.calls if c.request.method == "DELETE"]
    assert [r.url for r in deletes] == [f"{NOTIFY}/v1/subscribers/{contact.public_id}"]

    assert leaks(raw_table_scan()) == [] and leaks(full_dump()) == []
    erasure = AuditEntry.objects.get(action=AuditAction.ERASE)
    assert erasure.object_id == contact.public_id and erasure.actor_label.startswith("dpo-tool")
    assert Contact.objects.get(pk=bystander.pk).email == "ann@example.com"

    pages = [
        reverse("admin:contacts_contact_changelist"),
        reverse("admin:contacts_contact_change", args=[contact.pk]),
        reverse("admin:portal_auditentry_changelist"),
        reverse("admin:sync_deliveryattempt_changelist"),
        reverse("admin:sync_inboundevent_changelist"),
        reverse("record_timeline", args=["contact", contact.pk]),
    ]
    for page in pages:
        html = admin_client.get(page).content.decode()
        assert leaks(html) == [], page
    search = admin_client.get(reverse("admin:contacts_contact_changelist"), {"q": "Zebulon"})
    assert search.context["cl"].result_count == 0
    reader = client_for(make_key(scopes=["contacts.readonly"])[1])
    for path in (f"/api/v1/contacts/{contact.public_id}", "/api/v1/contacts/?include_deleted=1"):
        assert leaks(reader.get(path).content.decode()) == []
    assert client_for(token).post(url).status_code == 200  # again: nothing left to do


def test_the_command_and_the_admin_action_erase(person, admin_client, notify):
    contact, _link = person
    with pytest.raises(CommandError, match="add --yes"):
        call_command("erase_contact", contact.public_id, stdout=StringIO())
    out = StringIO()
    call_command("erase_contact", contact.public_id, "--yes", "--by", "ticket 42", stdout=out)
    assert "Erased" in out.getvalue()
    assert AuditEntry.objects.get(action="erase").actor_label == "erase_contact (for ticket 42)"
    assert leaks(full_dump()) == []

    other = ContactFactory(workspace=contact.workspace, first_name="Zebulon")
    changelist = reverse("admin:contacts_contact_changelist")
    form = {"action": "erase_personal_data", "_selected_action": [other.pk]}
    confirm = admin_client.post(changelist, form)
    assert b"This cannot be undone" in confirm.content
    Contact.objects.get(pk=other.pk, first_name="Zebulon")  # not yet
    admin_client.post(changelist, {**form, "confirm": "yes"})
    other.refresh_from_db()
    assert other.first_name == "" and other.deleted_at is not None
    assert AuditEntry.objects.filter(action="erase", object_id=other.public_id).exists()
