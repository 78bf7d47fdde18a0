"""Short leases renewed by a live worker: a killed worker's push or event runs again within
one lease (30 s + a third), not after the longest a push may take."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from sync.engine import leases
from sync.engine.debounce import PUSH_TASK
from sync.engine.leases import Keeper, holding, keeper
from sync.engine.push import claim_batch
from sync.inbound import processing
from sync.models import ChangeStatus, InboundEvent, OutboundChange
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def claim(change_id: int):
    """One row claimed as a worker's batch would claim it (None: not claimable)."""
    claimed = claim_batch([change_id])
    return claimed[0] if claimed else None


@pytest.fixture
def row(conn, workspace, enqueued) -> OutboundChange:
    ContactFactory(workspace=workspace)
    enqueued.clear()
    return OutboundChange.objects.get()


@pytest.fixture
def inbound_enqueued(broker):
    return broker["inbound"]


def expire_in(model, pk: int, seconds: float) -> None:
    model.objects.filter(pk=pk).update(lease_until=timezone.now() + timedelta(seconds=seconds))


def event(conn, **fields) -> InboundEvent:
    return InboundEvent.objects.create(
        source="highlevel", source_key="highlevel", connection=conn, workspace=conn.workspace,
        event_type="ContactUpdate", webhook_id=f"w-{fields.get('attempts', 0)}",
        object_type="contact", remote_id="R1", body="{}", **fields,
    )  # fmt: skip


def test_a_claim_leases_the_row_for_the_short_lease(row, settings):
    assert settings.SYNC_LEASE_SECONDS == 30  # the default: recovery within about 40 s
    before = timezone.now()
    claimed = claim(row.pk)
    assert (
        before + timedelta(seconds=29)
        < claimed.lease_until
        <= timezone.now() + timedelta(seconds=30)
    )


def test_a_live_worker_keeps_its_lease_past_its_first_term(row, enqueued):
    claimed = claim(row.pk)
    with holding(OutboundChange, claimed.lease_token, [claimed.pk]):
        expire_in(OutboundChange, row.pk, 2)  # a long push, near the end of its first term
        keeper.cycle()  # its keeper renews it
    row.refresh_from_db()
    assert row.status == ChangeStatus.IN_FLIGHT and row.lease_token == claimed.lease_token
    assert row.lease_until > timezone.now() + timedelta(seconds=25)
    assert enqueued == []


def test_a_killed_workers_push_is_queued_again_by_a_live_workers_keeper(row, enqueued):
    claim(row.pk)  # ... and the worker is killed: nobody renews
    expire_in(OutboundChange, row.pk, -1)  # one lease later
    keeper.cycle()  # any live worker's keeper, within a third of a lease
    row.refresh_from_db()
    assert row.status == ChangeStatus.RETRYING and row.lease_token == ""
    assert row.enqueued_at is not None and enqueued == [(PUSH_TASK,)]  # released, woken
    keeper.cycle()  # another process's keeper finds nothing more to do
    assert enqueued == [(PUSH_TASK,)]


def test_a_lease_not_yet_over_is_left_alone(row, enqueued):
    claim(row.pk)  # a worker elsewhere is pushing it (its own keeper renews it)
    keeper.cycle()
    row.refresh_from_db()
    assert row.status == ChangeStatus.IN_FLIGHT and enqueued == []


def test_a_killed_workers_inbound_event_is_queued_again_once(conn, inbound_enqueued):
    held = event(conn, attempts=1, lease_token="dead", lease_until=timezone.now())
    expire_in(InboundEvent, held.pk, -1)
    keeper.cycle()
    keeper.cycle()
    held.refresh_from_db()
    assert inbound_enqueued == [(processing.PROCESS_TASK,)]  # the workers woken, once
    assert held.lease_until is None
    assert processing.claim(held.pk) is not None  # free for the next worker


def test_renewal_never_shortens_a_retrys_not_before(conn):
    waiting = event(conn, attempts=1, lease_token="retry")
    expire_in(InboundEvent, waiting.pk, 600)  # "retry in 10 minutes"
    before = InboundEvent.objects.get(pk=waiting.pk).lease_until
    with holding(InboundEvent, "retry", [waiting.pk]):
        keeper.cycle()
    assert InboundEvent.objects.get(pk=waiting.pk).lease_until == before


@pytest.mark.django_db(transaction=True)
def test_the_keeper_thread_renews_what_its_process_holds(row, settings):
    settings.SYNC_LEASE_RENEWAL = True
    woke, parked = threading.Event(), threading.Event()
    calls = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) > 1:
            woke.set()
            parked.wait()  # after one cycle the thread stays here (a daemon)

    own = Keeper(sleep=sleep)
    claimed = claim(row.pk)
    expire_in(OutboundChange, row.pk, 2)
    own.add(OutboundChange, claimed.lease_token, [claimed.pk])
    assert woke.wait(timeout=30), "the keeper thread never ran a cycle"
    assert calls[0] == pytest.approx(settings.SYNC_LEASE_SECONDS / 3)
    assert OutboundChange.objects.get(pk=row.pk).lease_until > timezone.now() + timedelta(
        seconds=25
    )
    own.discard(OutboundChange, claimed.lease_token)
    assert own.leases() == {}


def test_each_queue_registered_its_reaper():
    from sync.engine.push import reap_expired_leases as push_reaper

    assert push_reaper in leases._reapers
    assert processing.reap_expired_leases in leases._reapers
