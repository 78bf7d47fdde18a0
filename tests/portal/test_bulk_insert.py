"""bulk_insert and insert_rows: on PostgreSQL a COPY that writes exactly the rows bulk_create
writes (insert_rows without building model instances)."""

import datetime

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Contact, Task
from portal import bulk_insert as bulk_insert_module
from portal.audit import audit_entry, audit_values
from portal.bulk_insert import bulk_insert, insert_rows, uses_copy
from portal.models import AuditEntry
from sync.models import DeliveryAttempt, Link
from tests.factories import TEST_ACTOR, ContactFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
WHEN = timezone.now().replace(microsecond=0) - datetime.timedelta(days=2)
NOT_COMPARED = {"id", "public_id", "created_at", "updated_at"}


def contact(workspace, n: int) -> Contact:
    row = Contact(
        workspace=workspace,
        first_name=f"Zoë {n}",
        last_name="O'Brien\ttab\\back",  # quoting and COPY's escapes
        email=f"z{n}@example.com",
        email_key=f"z{n}@example.com",
        phone="+15550100000",
        dnd=True,
        date_of_birth=datetime.date(1990, 2, 3),
        tags=["vip", 'quote "x"', "line\nbreak"],
        custom_fields={"score": 7, "nested": {"a": [1, None]}, "when": "2024-01-01"},
        source_updated_at=WHEN,
    )
    row.ensure_public_id()
    return row


def columns(rows) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in NOT_COMPARED} for row in rows]


def test_copy_is_used_on_postgresql_only():
    assert uses_copy(Contact) is (connection.vendor == "postgresql")
    assert uses_copy(AuditEntry) is uses_copy(Link) is (connection.vendor == "postgresql")


def test_rows_are_those_bulk_create_writes(workspace):
    reference = Contact.objects.bulk_create([contact(workspace, 1)])
    copied = bulk_insert(Contact, [contact(workspace, 1)])
    assert copied[0].pk and copied[0].pk != reference[0].pk
    assert not copied[0]._state.adding and copied[0]._state.db == "default"
    rows = Contact.objects.order_by("id").values()
    assert columns(rows[:1]) == columns(rows[1:])
    stored = Contact.objects.get(pk=copied[0].pk)
    assert stored.tags == ["vip", 'quote "x"', "line\nbreak"]
    assert stored.custom_fields["nested"] == {"a": [1, None]}
    assert stored.last_name == "O'Brien\ttab\\back" and stored.unique_email_key is None
    assert stored.created_at is not None and stored.updated_at is not None  # auto_now(_add)


def test_ids_come_from_the_table_sequence(workspace):
    copied = bulk_insert(Contact, [contact(workspace, n) for n in range(3)])
    later = ContactFactory(workspace=workspace, email="later@example.com")
    ids = [row.pk for row in copied]
    assert len(set(ids)) == 3 and later.pk > max(ids)


def test_audit_entries_and_links_match_bulk_create(workspace):
    conn = ConnectionFactory(workspace=workspace)
    row = ContactFactory(workspace=workspace)
    changes = {"email": [None, "a@example.com"], "api_key": [None, "s3cret"], "at": [None, WHEN]}

    def entry():
        return audit_entry(actor=TEST_ACTOR, action="create", instance=row, changes=changes)

    def link(remote_id):
        snapshot = {"email": ["a@example.com", WHEN.isoformat()]}
        return Link(
            connection=conn,
            object_type="contact",
            object_id=row.pk,
            remote_id=remote_id,
            remote_updated_at=WHEN,
            remote_snapshot=snapshot,
        )

    AuditEntry.objects.all().delete()
    AuditEntry.objects.bulk_create([entry()])
    bulk_insert(AuditEntry, [entry()])
    entries = columns(AuditEntry.objects.order_by("id").values())
    assert entries[0] == entries[1] and entries[1]["changes"]["api_key"] == [None, "••••••"]
    Link.objects.bulk_create([link("R1")])
    other = ConnectionFactory(workspace=workspace, slug="other")
    copied = link("R1")
    copied.connection = other
    bulk_insert(Link, [copied])
    links = columns(Link.objects.order_by("id").values())
    assert links[1].pop("connection_id") == other.pk and links[0].pop("connection_id") == conn.pk
    assert links[0] == links[1]


def test_a_constraint_refusal_is_djangos_integrity_error_and_undoes_the_rows(workspace):
    conn = ConnectionFactory(workspace=workspace)
    row = ContactFactory(workspace=workspace)
    Link.objects.create(connection=conn, object_type="contact", object_id=row.pk, remote_id="R1")
    again = Link(connection=conn, object_type="contact", object_id=row.pk + 1, remote_id="R1")
    fresh = Link(connection=conn, object_type="contact", object_id=row.pk + 2, remote_id="R2")
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_insert(Link, [fresh, again])
    assert list(Link.objects.values_list("remote_id", flat=True)) == ["R1"]


def test_foreign_keys_are_written_by_their_id(workspace):
    parent = ContactFactory(workspace=workspace)
    task = Task(workspace=workspace, contact=parent, title="Call", due_date=WHEN)
    task.ensure_public_id()
    bulk_insert(Task, [task])
    stored = Task.objects.get(pk=task.pk)
    assert (stored.contact_id, stored.title, stored.due_date) == (parent.pk, "Call", WHEN)


def test_other_databases_and_special_models_use_bulk_create(workspace, monkeypatch):
    monkeypatch.setattr(bulk_insert_module, "uses_copy", lambda model, using="default": False)
    rows = bulk_insert(Contact, [contact(workspace, n) for n in range(2)])
    assert all(row.pk for row in rows) and Contact.objects.count() == 2
    assert bulk_insert(Contact, []) == []


def test_a_field_subclass_is_always_asked_to_prepare_its_value():
    from portal.bulk_insert import _Column

    class Shouting(models.CharField):
        def get_prep_value(self, value):
            return str(value).upper()

    field = Shouting(max_length=10)
    field.set_attributes_from_name("name")
    holder = type("Holder", (), {"name": "quiet"})()
    assert _Column(field).value(holder, connection) == "QUIET"
    plain = models.CharField(max_length=10)
    plain.set_attributes_from_name("name")
    assert _Column(plain).value(holder, connection) == "quiet"


def test_rows_by_value_are_those_bulk_create_writes_from_instances(workspace):
    conn = ConnectionFactory(workspace=workspace)
    row = ContactFactory(workspace=workspace)
    changes = {"email": [None, "a@example.com"], "api_key": [None, "s3cret"], "at": [None, WHEN]}
    values = audit_values(actor=TEST_ACTOR, action="create", instance=row, changes=changes)
    AuditEntry.objects.all().delete()
    AuditEntry.objects.bulk_create([AuditEntry(**values)])
    before = timezone.now()
    insert_rows(AuditEntry, [values, values])
    entries = AuditEntry.objects.order_by("id")
    assert len({entry.pk for entry in entries}) == 3
    assert all(entry.created_at >= before for entry in entries[1:])  # auto_now_add
    assert (
        columns(entries.values()[:1])
        == columns(entries.values()[1:2])
        == columns(entries.values()[2:])
    )
    # A field a row leaves out takes its default, as a new instance's would.
    link = {"connection_id": conn.pk, "object_type": "contact", "object_id": row.pk}
    Link.objects.bulk_create([Link(**link, remote_id="R1")])
    insert_rows(Link, [{**link, "object_id": row.pk + 1, "remote_id": "R2"}])
    links = columns(Link.objects.order_by("id").values())
    assert links[0].pop("remote_id") == "R1" and links[1].pop("remote_id") == "R2"
    assert links[1].pop("object_id") == links[0].pop("object_id") + 1
    assert links[0] == links[1] and links[1]["remote_snapshot"] == {}
    stored = Link.objects.get(remote_id="R2")
    assert stored.created_at >= before and stored.updated_at >= before  # auto_now(_add)


def test_rows_by_value_refused_by_a_constraint_raise_integrity_error_and_write_nothing(
    workspace,
):
    conn = ConnectionFactory(workspace=workspace)
    link = {"connection_id": conn.pk, "object_type": "contact", "object_id": 1}
    insert_rows(Link, [{**link, "remote_id": "R1"}])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(
            Link, [{**link, "object_id": 2, "remote_id": "R2"}, {**link, "remote_id": "R1"}]
        )
    assert list(Link.objects.values_list("remote_id", flat=True)) == ["R1"]


def test_rows_by_value_name_fields_by_attname():
    with pytest.raises(TypeError, match="connection"):
        insert_rows(Link, [{"connection": None, "object_type": "contact", "object_id": 1}])
    assert insert_rows(Link, []) is None and not Link.objects.exists()


def test_rows_by_value_keep_a_given_id_and_the_others_are_numbered_by_the_table(workspace):
    conn = ConnectionFactory(workspace=workspace)
    link = {"connection_id": conn.pk, "object_type": "contact"}
    insert_rows(Link, [{**link, "id": 10**6, "object_id": 1}, {**link, "object_id": 2}])
    insert_rows(Link, [{**link, "object_id": 3}, {**link, "object_id": 4}])
    later = Link.objects.create(**link, object_id=5)
    ids = dict(Link.objects.values_list("object_id", "id"))
    assert ids[1] == 10**6 and len(set(ids.values())) == 5
    assert later.pk > max(ids[2], ids[3], ids[4])


def test_rows_nobody_reads_back_are_numbered_by_the_table_without_drawing_ids(workspace):
    conn = ConnectionFactory(workspace=workspace)
    calls = [
        DeliveryAttempt(connection=conn, method="GET", path=f"/contacts/{n}", outcome="ok")
        for n in range(3)
    ]
    with CaptureQueriesContext(connection) as queries:
        bulk_insert(DeliveryAttempt, calls, numbered=False)
    saved = DeliveryAttempt.objects.filter(connection=conn).order_by("id")
    assert [call.path for call in saved] == ["/contacts/0", "/contacts/1", "/contacts/2"]
    assert len({call.pk for call in saved}) == 3 and all(call.created_at for call in saved)
    assert not [q for q in queries.captured_queries if "nextval" in q["sql"]]
    if uses_copy(DeliveryAttempt):
        assert [call.pk for call in calls] == [None, None, None]  # no ids drawn for them
    else:
        assert all(call.pk for call in calls)  # bulk_create's own numbering
