"""A push's call row commits with its outcome (one commit per push, not two); a row is never
held across another call, and one held when the push fails is still saved."""

from datetime import timedelta

import pytest
import responses
from django.db import connection
from django.utils import timezone

from sync.engine.push import push_due
from sync.models import ChangeStatus, DeliveryAttempt, OutboundChange
from sync.transport import attempt_log
from sync.transport.http import HttpClient
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_a_pushs_call_row_and_its_outcome_are_written_in_one_transaction(crm, workspace):
    ConnectionFactory(workspace=workspace)
    crm.post(CRM + "/contacts/", json={"contact": {"id": "R1", "locationId": "x"}}, status=201)
    ContactFactory(workspace=workspace, email="one@example.com")
    OutboundChange.objects.update(
        enqueued_at=timezone.now(), created_at=timezone.now() - timedelta(seconds=5)
    )
    outside = len(connection.atomic_blocks)
    depth = {}

    def note_depth(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "sync_deliveryattempt"'):
            depth["attempt"] = len(connection.atomic_blocks)
        elif sql.startswith('UPDATE "sync_outboundchange"') and "lease_token" in sql:
            depth["outcome"] = len(connection.atomic_blocks)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note_depth):
        assert push_due()["pushed"] == 1
    assert depth == {"attempt": outside + 1, "outcome": outside + 1}
    assert OutboundChange.objects.get().status == ChangeStatus.DONE
    assert DeliveryAttempt.objects.get().status_code == 201


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
