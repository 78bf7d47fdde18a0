"""A push worker's batch: what it costs besides the calls, and what it decides once per batch
(coalescing, the connection's health, releasing rows that waited) — against a mocked CRM."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.services import contact_update
from sync.engine import push
from sync.engine.push import push_due
from sync.models import ChangeStatus, DeliveryAttempt, Health, OutboundChange
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conn(workspace):
    return ConnectionFactory(workspace=workspace)


def created(remote_id: str) -> dict:
    return {"contact": {"id": remote_id, "locationId": "x"}}


def released() -> list[int]:
    OutboundChange.objects.update(enqueued_at=timezone.now())
    return list(OutboundChange.objects.order_by("id").values_list("pk", flat=True))


ENGINE_TABLES = ("sync_outboundchange", "contacts_contact", "sync_connection")


def engine_statements(queries: CaptureQueriesContext) -> list[str]:
    """The push engine's own statements (the connector's Link and attempt rows and the rate
    limiter's are the call's, and the same however rows are batched)."""
    statements = [q["sql"] for q in queries.captured_queries]
    return [sql for sql in statements if any(f'"{table}"' in sql for table in ENGINE_TABLES)]


def test_a_batch_costs_one_engine_statement_per_push_and_a_few_per_batch(
    crm, conn, workspace, settings
):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 0.5  # the quiet check is part of a batch's cost
    for number in range(12):
        crm.post(CRM + "/contacts/", json=created(f"R{number}"), status=201)
        ContactFactory(workspace=workspace, email=f"batch{number}@example.com")
    released()
    OutboundChange.objects.update(changed_at=timezone.now() - timedelta(seconds=1))  # quiet
    with CaptureQueriesContext(connection) as queries:
        assert push_due() == {"pushed": 12, "held": 0}
    batches = 3  # 10 (one connection's share), 2, and the empty claim that ends the task
    assert len(engine_statements(queries)) <= 12 + batches * 8  # each row's outcome
    assert OutboundChange.objects.filter(status=ChangeStatus.DONE).count() == 12
    assert DeliveryAttempt.objects.filter(status_code=201).count() == 12


def test_two_rows_of_one_record_in_a_batch_become_one_push(crm, conn, workspace, actor):
    contact = ContactFactory(workspace=workspace)
    contact_update(contact, actor=actor, data={"last_name": "Second"})
    first, second = released()
    claimed = push.claim_batch([first, second])
    assert [change.pk for change in claimed] == [first]  # one in flight per record
    assert OutboundChange.objects.get(pk=second).status == ChangeStatus.COALESCED
    assert "last_name" in claimed[0].changed_fields  # the rider's fields are sent too


def test_a_failure_after_a_success_in_one_batch_leaves_the_connection_failing(crm, conn, workspace):
    crm.post(CRM + "/contacts/", json=created("R1"), status=201)
    crm.post(CRM + "/contacts/", json={"message": "bad phone"}, status=422)
    ContactFactory(workspace=workspace, email="ok@example.com")
    ContactFactory(workspace=workspace, email="refused@example.com")
    push.push_batch(released())
    conn.refresh_from_db()
    assert conn.health == Health.FAILING and "bad phone" in conn.last_error


def test_a_success_after_a_failure_in_one_batch_leaves_the_connection_healthy(crm, conn, workspace):
    crm.post(CRM + "/contacts/", json={"message": "bad phone"}, status=422)
    crm.post(CRM + "/contacts/", json=created("R2"), status=201)
    ContactFactory(workspace=workspace, email="refused@example.com")
    ContactFactory(workspace=workspace, email="ok@example.com")
    push.push_batch(released())
    conn.refresh_from_db()
    assert conn.health == Health.HEALTHY and conn.last_success_at


def test_a_row_that_waited_for_the_batch_is_released_when_the_batch_ends(
    crm, conn, workspace, actor, enqueued
):
    crm.post(CRM + "/contacts/", json=created("R1"), status=201)
    contact = ContactFactory(workspace=workspace)
    [first] = released()
    [change] = push.claim_batch([first])
    contact_update(contact, actor=actor, data={"last_name": "Meanwhile"})  # waits: in flight
    later = OutboundChange.objects.exclude(pk=first).get()
    assert later.enqueued_at is None
    enqueued.clear()
    push.push_claimed([change])
    assert OutboundChange.objects.get(pk=later.pk).enqueued_at is not None
    assert enqueued == [(push.PUSH_TASK,)]
