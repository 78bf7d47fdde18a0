"""mirror_bulk_create: many new rows in one write, with exactly mirror_create's rules."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from contacts.models import Contact, Task
from contacts.services import (
    NewRow,
    contact_create,
    mirror_bulk_create,
    workspace_set_allow_duplicate_contacts,
)
from contacts.signals import mirror_changed
from portal.actors import Actor
from portal.models import AuditEntry
from sync.engine.outbox import outbound_suppressed
from sync.models import OutboundChange
from tests.factories import ContactFactory, WorkspaceFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def announcements():
    received = []

    def receiver(sender, **kwargs):
        received.append((sender, kwargs["instance"].pk, kwargs["action"], kwargs["changes"]))

    mirror_changed.connect(receiver)
    yield received
    mirror_changed.disconnect(receiver)


def people(n: int) -> list[NewRow]:
    return [
        NewRow({"first_name": f"P{i}", "email": f" P{i}@Example.COM", "phone": f"555 010 {i:04d}"})
        for i in range(n)
    ]


def test_rows_are_normalised_audited_and_announced_like_single_creates(
    workspace, actor, announcements
):
    # The single create repeats the first row's e-mail, to compare the two paths.
    workspace_set_allow_duplicate_contacts(workspace=workspace, allow=True)
    when = timezone.now() - datetime.timedelta(days=3)
    rows = [NewRow(people(1)[0].data, when), *people(3)[1:]]
    created = mirror_bulk_create(Contact, workspace=workspace, actor=actor, rows=rows)
    single = contact_create(workspace=workspace, actor=actor, data=people(1)[0].data | {})

    assert all(isinstance(c, Contact) and c.pk for c in created)
    first = Contact.objects.get(pk=created[0].pk)
    assert (first.email, first.email_key, first.phone) == (
        single.email,
        single.email_key,
        single.phone,
    )
    assert first.phone == "+15550100000" and first.email_key == "p0@example.com"
    assert first.public_id.startswith("ct_") and first.version == 1
    assert first.source_updated_at == when and created[1].source_updated_at is not None
    entries = AuditEntry.objects.filter(object_id__in=[c.public_id for c in created])
    assert entries.count() == 3
    for entry in entries:
        assert (entry.action, entry.actor_label, entry.source) == ("create", actor.label, "tests")
    bulk_entry = entries.get(object_id=first.public_id)
    single_entry = AuditEntry.objects.get(object_id=single.public_id)
    assert bulk_entry.changes == single_entry.changes
    assert [(a[1], a[2]) for a in announcements] == [(c.pk, "create") for c in [*created, single]]


def test_the_actor_and_source_are_recorded_on_every_entry(workspace):
    connection = ConnectionFactory(workspace=workspace)
    actor = Actor.connection(connection, source="backfill")
    created = mirror_bulk_create(Contact, workspace=workspace, actor=actor, rows=people(2))
    entries = AuditEntry.objects.filter(object_id__in=[c.public_id for c in created])
    assert {(e.actor_kind, e.actor_id, e.source) for e in entries} == {
        ("connection", str(connection.pk), "backfill")
    }


def test_a_refused_row_is_returned_in_its_place_and_the_others_land(workspace, actor):
    rows = people(3)
    rows[1] = NewRow({"first_name": "Bad", "email": "not an e-mail"})
    results = mirror_bulk_create(Contact, workspace=workspace, actor=actor, rows=rows)
    assert isinstance(results[1], ValidationError)
    assert results[1].message_dict == {"email": ["Enter a valid e-mail address."]}
    assert isinstance(results[0], Contact) and isinstance(results[2], Contact)
    assert set(Contact.objects.values_list("first_name", flat=True)) == {"P0", "P2"}
    assert AuditEntry.objects.filter(action="create").count() == 2


def test_a_page_of_only_refused_rows_writes_nothing(workspace, actor):
    rows = [NewRow({"nickname": "x"}), NewRow({"phone": "12"})]
    results = mirror_bulk_create(Contact, workspace=workspace, actor=actor, rows=rows)
    assert results[0].message_dict == {"nickname": ["Unknown field."]}
    assert "phone" in results[1].message_dict
    assert not Contact.objects.exists() and not AuditEntry.objects.exists()


def test_related_rows_are_checked_like_single_creates(workspace, actor):
    own = ContactFactory(workspace=workspace)
    foreign = ContactFactory(workspace=WorkspaceFactory())
    rows = [
        NewRow({"title": "Call", "contact": own}),
        NewRow({"title": "Call", "contact": foreign}),
    ]
    results = mirror_bulk_create(Task, workspace=workspace, actor=actor, rows=rows)
    assert isinstance(results[0], Task) and results[0].contact_id == own.pk
    assert results[1].message_dict == {"contact": ["Belongs to another workspace."]}
    assert Task.objects.count() == 1


def test_the_page_costs_a_fixed_number_of_queries(workspace, actor, django_assert_num_queries):
    with outbound_suppressed():
        # e-mails already taken, rows, audit entries (no savepoint of its own inside the
        # caller's transaction): the same for 2 rows as for 20. On PostgreSQL both are COPYs,
        # which Django does not log; the rows' ids are drawn first (one query), the audit
        # entries' come from the table's default.
        expected = 2 if connection.vendor == "postgresql" else 3
        for rows in (people(2), people(22)[2:]):
            with django_assert_num_queries(expected):
                mirror_bulk_create(Contact, workspace=workspace, actor=actor, rows=rows)
    assert Contact.objects.count() == 22


def test_outbox_rows_are_written_in_the_same_write_unless_suppressed(workspace, actor):
    target = ConnectionFactory(workspace=workspace)
    created = mirror_bulk_create(Contact, workspace=workspace, actor=actor, rows=people(3))
    queued = OutboundChange.objects.filter(connection=target)
    assert sorted(queued.values_list("object_id", flat=True)) == sorted(c.pk for c in created)
    assert set(queued.values_list("audit_action", flat=True)) == {"create"}
    with outbound_suppressed():
        mirror_bulk_create(Contact, workspace=workspace, actor=actor, rows=people(6)[3:])
    assert Contact.objects.count() == 6 and queued.count() == 3


# Issue 15, row 9: one 1,000-item bulk upsert held the (SQLite) writer for 6-7 s.
@pytest.mark.django_db(transaction=True)
def test_a_bulk_upsert_commits_in_transactions_of_at_most_100_items(workspace, actor):
    from django.db import transaction

    from contacts.services import BULK_TRANSACTION_ROWS, contact_bulk_upsert

    committed: list[int] = []
    commits_seen_by_item: list[int] = []

    def receiver(sender, **kwargs):
        commits_seen_by_item.append(len(committed))
        transaction.on_commit(lambda: committed.append(1))

    items = [{"email": f"p{i}@example.com"} for i in range(250)]
    items[120] = {"email": "not-an-email"}
    mirror_changed.connect(receiver)
    try:
        results = contact_bulk_upsert(workspace=workspace, actor=actor, items=items)
    finally:
        mirror_changed.disconnect(receiver)
    assert BULK_TRANSACTION_ROWS == 100
    # Items written before the n-th commit share a transaction: 100, 99 (one refused), 50.
    batches = [commits_seen_by_item.count(n) for n in sorted(set(commits_seen_by_item))]
    assert batches == [100, 99, 50]
    # Per-item results are what one transaction gave: in order, the refused one in place.
    assert [r.status for r in results].count("created") == 249
    assert results[120].status == "error" and "e-mail" in str(results[120].errors)
    assert Contact.objects.filter(workspace=workspace).count() == 249
