"""A push claim as production runs it (autocommit: `atomic()` is the transaction itself)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.services import contact_update
from sync.engine import push
from sync.models import ChangeStatus, OutboundChange
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def released() -> list[int]:
    OutboundChange.objects.update(enqueued_at=timezone.now())
    return list(OutboundChange.objects.order_by("id").values_list("pk", flat=True))


def test_a_claim_updates_the_rows_it_locked_without_a_savepoint(workspace):
    ConnectionFactory(workspace=workspace)
    for number in range(3):
        ContactFactory(workspace=workspace, email=f"claim{number}@example.com")
    ids = released()
    with CaptureQueriesContext(connection) as queries:
        claimed = push.claim_batch(ids)
    assert [change.pk for change in claimed] == ids
    assert set(OutboundChange.objects.values_list("status", flat=True)) == {ChangeStatus.IN_FLIGHT}
    # A savepoint would make PostgreSQL keep each row's lock and update as a multixact.
    assert not [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]


def test_two_rows_of_one_record_fall_back_to_row_by_row_and_claim_one(workspace, actor):
    ConnectionFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace)
    contact_update(contact, actor=actor, data={"last_name": "Second"})
    first, second = released()
    claimed = push.claim_batch([first, second])
    assert [change.pk for change in claimed] == [first]
    assert OutboundChange.objects.get(pk=first).status == ChangeStatus.IN_FLIGHT
    assert OutboundChange.objects.get(pk=second).status == ChangeStatus.COALESCED
