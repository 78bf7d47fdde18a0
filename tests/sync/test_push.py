"""The push engine against a mocked CRM: retries, idempotent creates, coalescing, leases."""

import json
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import connections
from django.utils import timezone

from contacts.services import contact_create, contact_delete, contact_update
from portal.actors import Actor
from sync.engine.push import (
    claim_batch,
    drain,
    process_change,
    release_expired_leases,
    replay,
    sweep,
)
from sync.models import ChangeStatus, DeliveryAttempt, Link, OutboundChange
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
CREATED = {"contact": {"id": "R1", "locationId": "x"}}


def claim(change_id: int):
    """One row claimed as a worker's batch would claim it (None: not claimable)."""
    claimed = claim_batch([change_id])
    return claimed[0] if claimed else None


@pytest.fixture
def conn(workspace):
    return ConnectionFactory(workspace=workspace)


def only_row(**filters) -> OutboundChange:
    return OutboundChange.objects.get(**filters)


def test_create_links_the_remote_id_and_records_the_call(crm, conn, workspace):
    crm.post(CRM + "/contacts/", json=CREATED, status=201)
    contact = ContactFactory(workspace=workspace, first_name="Ada", email="ada@example.com")
    assert drain() == {"processed": 1, "left": 0}
    body = json.loads(crm.calls[0].request.body)
    assert body["locationId"] == workspace.location_id and body["firstName"] == "Ada"
    assert crm.calls[0].request.headers["Version"] == "2021-07-28"
    link = Link.objects.get(connection=conn, object_id=contact.pk)
    assert link.remote_id == "R1" and link.last_pushed_hash
    row = only_row(object_id=contact.pk)
    assert row.status == ChangeStatus.DONE and row.attempts == 1
    assert DeliveryAttempt.objects.get(change=row).status_code == 201
    conn.refresh_from_db()
    assert conn.health == "healthy" and conn.last_success_at


def test_unchanged_payload_sends_nothing(crm, conn, workspace, actor):
    crm.post(CRM + "/contacts/", json=CREATED, status=201)
    contact = ContactFactory(workspace=workspace)
    drain()
    contact_update(contact, actor=actor, data={"external_id": "not-mapped"})
    drain()
    assert len(crm.calls) == 1


def test_429_retry_after_defers_the_next_attempt(crm, conn, workspace):
    crm.post(CRM + "/contacts/", status=429, headers={"Retry-After": "30"})
    ContactFactory(workspace=workspace)
    before = timezone.now()
    drain()
    row = only_row()
    assert row.status == ChangeStatus.RETRYING and row.last_status_code == 429
    assert row.available_at >= before + timedelta(seconds=30)
    assert drain()["processed"] == 0  # not due yet


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500},
        {"status": 503},
        {"body": requests.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("Connection reset by peer")},
    ],
)
def test_server_errors_and_network_failures_back_off_then_die(
    crm, conn, workspace, settings, failure
):
    settings.SYNC_MAX_ATTEMPTS = 3
    crm.post(CRM + "/contacts/", **failure)
    ContactFactory(workspace=workspace)
    delays = []  # (shortest, longest) possible: the push itself takes time on a busy machine
    for _ in range(3):
        OutboundChange.objects.update(available_at=timezone.now())
        before = timezone.now()
        drain()
        after = timezone.now()
        row = only_row()
        delays.append(
            (
                (row.available_at - after).total_seconds(),
                (row.available_at - before).total_seconds(),
            )
        )
    assert row.status == ChangeStatus.DEAD and row.attempts == 3
    # 10 s, then 20 s, each ± 25 % jitter
    assert delays[0][1] >= 7.5 and delays[0][0] <= 12.5
    assert delays[1][1] >= 15 and delays[1][0] <= 25
    conn.refresh_from_db()
    assert conn.health == "failing" and conn.last_error


def test_422_fails_at_once_with_the_reason(crm, conn, workspace):
    crm.post(CRM + "/contacts/", status=422, json={"message": ["email must be an email"]})
    ContactFactory(workspace=workspace)
    drain()
    row = only_row()
    assert row.status == ChangeStatus.FAILED and row.attempts == 1
    assert "email must be an email" in row.last_error


def test_401_refreshes_the_oauth_token_once_and_retries(crm, workspace, caplog):
    caplog.set_level("DEBUG")
    conn = ConnectionFactory(
        workspace=workspace,
        credentials={
            "client_id": "cid",
            "client_secret": "csecret-value",
            "access_token": "old-access",
            "refresh_token": "old-refresh",
            "expires_at": time.time() + 3600,
        },
    )
    crm.post(CRM + "/contacts/", status=401, json={"message": "Invalid JWT"})
    crm.post(CRM + "/contacts/", status=201, json=CREATED)
    crm.post(
        CRM + "/oauth/token",
        json={"access_token": "new-access", "refresh_token": "new-refresh", "expires_in": 86399},
    )
    ContactFactory(workspace=workspace)
    drain()
    assert only_row().status == ChangeStatus.DONE
    token_calls = [c for c in crm.calls if c.request.url.endswith("/oauth/token")]
    assert len(token_calls) == 1 and "refresh_token=old-refresh" in token_calls[0].request.body
    assert crm.calls[-1].request.headers["Authorization"] == "Bearer new-access"
    conn.refresh_from_db()
    assert conn.credentials["refresh_token"] == "new-refresh"
    stored = "".join(
        a.request_excerpt + a.response_excerpt + a.error for a in DeliveryAttempt.objects.all()
    )
    for secret in ("old-access", "new-access", "old-refresh", "new-refresh", "csecret-value"):
        assert secret not in stored and secret not in caplog.text


def test_a_private_token_rejected_with_401_fails_permanently(crm, conn, workspace):
    crm.post(CRM + "/contacts/", status=401, json={"message": "Invalid token"})
    ContactFactory(workspace=workspace)
    drain()
    assert only_row().status == ChangeStatus.FAILED and len(crm.calls) == 1


def test_a_create_whose_response_was_lost_is_not_created_twice(crm, conn, workspace):
    crm.post(CRM + "/contacts/", body=requests.ReadTimeout("response lost"))
    ContactFactory(workspace=workspace, email="ada@example.com")
    drain()
    assert only_row().status == ChangeStatus.RETRYING
    # The CRM did create it: the next attempt finds it instead of creating again.
    crm.get(CRM + "/contacts/search/duplicate", json={"contact": {"id": "R9"}})
    crm.put(CRM + "/contacts/R9", json={"succeded": True, "contact": {"id": "R9"}})
    OutboundChange.objects.update(available_at=timezone.now())
    drain()
    assert only_row().status == ChangeStatus.DONE
    methods = [c.request.method for c in crm.calls]
    assert methods == ["POST", "GET", "PUT"]
    assert "email=ada%40example.com" in crm.calls[1].request.url
    assert Link.objects.get().remote_id == "R9"


def test_five_quick_updates_become_one_put_with_the_last_state(crm, conn, workspace, actor):
    crm.post(CRM + "/contacts/", json=CREATED, status=201)
    contact = ContactFactory(workspace=workspace)
    drain()
    crm.put(CRM + "/contacts/R1", json={"succeded": True})
    for n in range(5):
        contact = contact_update(contact, actor=actor, data={"first_name": f"Name {n}"})[0]
    assert drain()["processed"] == 1
    puts = [c for c in crm.calls if c.request.method == "PUT"]
    assert len(puts) == 1 and json.loads(puts[0].request.body)["firstName"] == "Name 4"
    statuses = sorted(OutboundChange.objects.values_list("status", flat=True))
    assert statuses == ["coalesced"] * 4 + ["done", "done"]


def test_delete_is_pushed_once(crm, conn, workspace, actor):
    crm.post(CRM + "/contacts/", json=CREATED, status=201)
    crm.delete(CRM + "/contacts/R1", json={"succeded": True})
    contact = ContactFactory(workspace=workspace)
    drain()
    contact_delete(contact, actor=actor)
    drain()
    assert [c.request.method for c in crm.calls] == ["POST", "DELETE"]


def test_a_change_from_a_fans_out_to_b_but_never_back_to_a(crm, workspace):
    a = ConnectionFactory(workspace=workspace, base_url="https://a.example.com")
    b = ConnectionFactory(workspace=workspace)
    crm.post(CRM + "/contacts/", json=CREATED, status=201)
    contact_create(workspace=workspace, actor=Actor.connection(a), data={"first_name": "Ada"})
    drain()
    assert [c.request.url for c in crm.calls] == [CRM + "/contacts/"]
    assert only_row().connection == b


def test_sandbox_connections_send_nothing(crm, workspace):
    conn = ConnectionFactory(workspace=workspace, dry_run=True)
    ContactFactory(workspace=workspace, email="ada@example.com")
    drain()
    assert len(crm.calls) == 0
    assert only_row().status == ChangeStatus.DONE
    attempt = DeliveryAttempt.objects.get(connection=conn)
    assert attempt.outcome == "dry_run" and "ada@example.com" in attempt.request_excerpt


def test_a_row_whose_worker_died_is_pushed_after_its_lease_expires(crm, conn, workspace):
    crm.post(CRM + "/contacts/", json=CREATED, status=201)
    ContactFactory(workspace=workspace)
    row = only_row()
    assert claim(row.pk) is not None  # the worker claims it ... and dies (kill -9)
    assert drain()["processed"] == 0  # in flight: nobody else may push it
    OutboundChange.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert sweep() == {"dead": 0, "released": 1, "enqueued": 1}
    drain()
    row.refresh_from_db()
    assert row.status == ChangeStatus.DONE and row.attempts == 2
    assert len(crm.calls) == 1


def test_a_row_never_handed_to_the_queue_is_enqueued_by_the_sweeper(conn, workspace, enqueued):
    ContactFactory(workspace=workspace)  # on_commit never ran: as if the process died
    row = only_row()
    assert row.enqueued_at is None and enqueued == []
    assert sweep()["enqueued"] == 1  # released ...
    assert enqueued == [("sync.tasks.push_due",)]  # ... and the push workers woken
    assert sweep()["enqueued"] == 0  # released already: not again


def test_a_push_that_kills_its_worker_every_time_goes_dead(conn, workspace, settings, caplog):
    settings.SYNC_MAX_ATTEMPTS = 4
    ContactFactory(workspace=workspace)
    row = only_row()
    for _ in range(4):
        assert claim(row.pk) is not None  # ... and the worker dies
        OutboundChange.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
        release_expired_leases()
    row.refresh_from_db()
    assert row.status == ChangeStatus.DEAD and row.attempts == 4
    assert "ALERT" in caplog.text
    assert claim(row.pk) is None
    assert replay(OutboundChange.objects.filter(status=ChangeStatus.DEAD)) == 1
    row.refresh_from_db()
    assert row.status == ChangeStatus.PENDING and row.attempts == 0


def test_a_stale_worker_cannot_overwrite_the_new_holder(conn, workspace):
    ContactFactory(workspace=workspace)
    first = claim(only_row().pk)
    OutboundChange.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    release_expired_leases()
    second = claim(first.pk)
    from sync.engine.push import _finish

    assert _finish(first, status=ChangeStatus.DONE) is False
    assert _finish(second, status=ChangeStatus.DONE) is True


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_push_the_same_record_twice(crm, workspace):
    ConnectionFactory(workspace=workspace)
    in_flight, overlaps = [], []

    def slow_create(request):
        in_flight.append(1)
        if len(in_flight) > 1:
            overlaps.append(1)
        time.sleep(0.3)
        in_flight.pop()
        return 201, {}, json.dumps(CREATED)

    crm.add_callback("POST", CRM + "/contacts/", callback=slow_create)
    crm.put(CRM + "/contacts/R1", json={"succeded": True})
    contact = ContactFactory(workspace=workspace)
    contact_update(contact, actor=Actor.system("t"), data={"first_name": "Second"})
    ids = list(OutboundChange.objects.values_list("id", flat=True))
    results = []

    def worker(change_id):
        try:
            results.append(process_change(change_id))
        finally:
            connections.close_all()

    # Two workers get the same row, and two more the record's other row, all at once.
    threads = [threading.Thread(target=worker, args=(i,)) for i in (ids[0], ids[0], ids[1], ids[1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain()
    posts = [c for c in crm.calls if c.request.method == "POST"]
    assert len(posts) == 1 and overlaps == []
    assert Link.objects.get().remote_id == "R1"
    assert set(OutboundChange.objects.values_list("status", flat=True)) <= {"done", "coalesced"}
