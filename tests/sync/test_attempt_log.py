"""A push's call row commits with its outcome (one commit per push, not two); a row is never
held across another call, and one held when the push fails is still saved."""

from datetime import timedelta

import pytest
import responses
from django.db import connection
from django.db.models.signals import post_save
from django.utils import timezone

from sync.engine.push import push_due
from sync.models import ChangeStatus, DeliveryAttempt, OutboundChange
from sync.transport import attempt_log
from sync.transport.http import HttpClient
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_a_pushs_call_row_and_its_outcome_are_stored_together(crm, workspace):
    """PostgreSQL: one statement (the row's INSERT a WITH clause of the outcome's UPDATE);
    elsewhere one transaction."""
    ConnectionFactory(workspace=workspace)
    crm.post(CRM + "/contacts/", json={"contact": {"id": "R1", "locationId": "x"}}, status=201)
    ContactFactory(workspace=workspace, email="one@example.com")
    OutboundChange.objects.update(
        enqueued_at=timezone.now(), changed_at=timezone.now() - timedelta(seconds=5)
    )
    outside = len(connection.atomic_blocks)
    writes = []

    def note_writes(execute, sql, params, many, context):
        outcome = 'UPDATE "sync_outboundchange"' in sql and "FROM (VALUES" in sql
        if outcome or 'INSERT INTO "sync_deliveryattempt"' in sql:
            writes.append((sql, len(connection.atomic_blocks)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note_writes):
        assert push_due()["pushed"] == 1
    if connection.vendor == "postgresql":
        [(sql, depth)] = writes
        assert sql.startswith("WITH inserted0 AS (INSERT INTO") and depth == outside
        assert 'UPDATE "sync_outboundchange"' in sql
    else:
        assert [depth for _sql, depth in writes] == [outside + 1, outside + 1]
    assert OutboundChange.objects.get().status == ChangeStatus.DONE
    assert DeliveryAttempt.objects.get().status_code == 201


@responses.activate
def test_the_held_row_is_stored_with_its_key_even_when_the_outcome_moves_no_row():
    """A stale worker's outcome changes nothing (the lease is another's), its call's row stays."""
    conn = ConnectionFactory()
    change = OutboundChange.objects.create(connection=conn, object_type="contact", object_id=1)
    saved = []

    def note_saved(instance, **kwargs):
        saved.append(instance.pk)

    post_save.connect(note_saved, sender=DeliveryAttempt)
    responses.get(CRM + "/contacts/abc", json={})
    try:
        for lease, moved in (("not-mine", 0), ("", 1)):
            with attempt_log.held_for_outcome():
                HttpClient(conn, change=change).request("GET", "/contacts/abc")
                assert attempt_log.update_with_held(
                    OutboundChange, [{"id": change.pk}], where={"lease_token": lease},
                    same={"last_error": f"outcome {moved}"},
                ) == moved  # fmt: skip
    finally:
        post_save.disconnect(note_saved, sender=DeliveryAttempt)
    assert OutboundChange.objects.get().last_error == "outcome 1"
    attempts = list(DeliveryAttempt.objects.order_by("id"))
    assert [a.change_id for a in attempts] == [change.pk, change.pk]
    assert saved == [a.pk for a in attempts]  # post_save sent, with the stored key


@responses.activate
def test_the_row_of_a_call_is_saved_before_the_next_call_goes_out():
    client = HttpClient(ConnectionFactory())
    seen_before_second = []

    def second(request):
        seen_before_second.append(DeliveryAttempt.objects.count())
        return (200, {}, "{}")

    responses.get(CRM + "/first", json={})
    responses.add_callback(responses.GET, CRM + "/second", callback=second)
    with attempt_log.held_for_outcome():
        client.request("GET", "/first")
        assert DeliveryAttempt.objects.count() == 0  # held for the outcome
        client.request("GET", "/second")
        assert DeliveryAttempt.objects.count() == 1
    assert seen_before_second == [1]
    assert list(DeliveryAttempt.objects.order_by("id").values_list("path", flat=True)) == [
        "/first",
        "/second",
    ]


@responses.activate
def test_a_row_held_when_the_block_fails_is_saved():
    client = HttpClient(ConnectionFactory())
    responses.get(CRM + "/contacts/abc", json={})
    with pytest.raises(RuntimeError), attempt_log.held_for_outcome():
        client.request("GET", "/contacts/abc")
        raise RuntimeError("the connector crashed after its call")
    assert DeliveryAttempt.objects.get().path == "/contacts/abc"


@responses.activate
def test_outside_a_push_a_calls_row_is_saved_at_once():
    client = HttpClient(ConnectionFactory())
    responses.get(CRM + "/contacts/abc", json={})
    client.request("GET", "/contacts/abc")
    assert DeliveryAttempt.objects.count() == 1
