"""The one queue (sync/engine/queue.py): fair batch claims across connections, no row claimed
twice by concurrent claimers, wake-ups deduplicated by a shared flag, and sweepers whose cost
does not grow with the number of connections."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sync import tasks
from sync.engine import leases, push, queue
from sync.engine.debounce import PUSH_TASK
from sync.engine.push import push_due, ready_changes
from sync.engine.timer import Timer
from sync.inbound.processing import PROCESS_TASK, claim_batch
from sync.inbound.tasks import sweep_inbound
from sync.models import (
    ChangeStatus,
    DeliveryAttempt,
    InboundEvent,
    InboundStatus,
    OutboundChange,
)
from tests.concurrency import in_parallel
from tests.factories import ContactFactory, WorkspaceFactory
from tests.sync.factories import ConnectionFactory

BACKLOG = 1000


def received_events(conn, count: int, start: int = 0) -> list[InboundEvent]:
    return InboundEvent.objects.bulk_create(
        InboundEvent(
            source="partner", source_key=f"connection:{conn.pk}", connection=conn,
            workspace_id=conn.workspace_id, event_type="contact.updated",
            webhook_id=f"w-{conn.pk}-{start + i}", body="{}",
        )
        for i in range(count)
    )  # fmt: skip


def released_changes(conn, count: int) -> list[OutboundChange]:
    """Rows past their quiet period, released to the workers (their records need not exist)."""
    now = timezone.now()
    return OutboundChange.objects.bulk_create(
        OutboundChange(connection=conn, object_type="contact", object_id=i, enqueued_at=now)
        for i in range(1, count + 1)
    )


@pytest.fixture
def busy_and_quiet(db):
    """One connection (location) with a big backlog, another with a single change after it."""
    busy = ConnectionFactory(workspace=WorkspaceFactory(), dry_run=True)
    quiet = ConnectionFactory(workspace=WorkspaceFactory(), dry_run=True)
    return busy, quiet


@pytest.mark.django_db
def test_a_busy_connections_backlog_does_not_starve_another_connections_single_event(
    busy_and_quiet, settings
):
    busy, quiet = busy_and_quiet
    received_events(busy, BACKLOG)
    (single,) = received_events(quiet, 1)  # arrives after the whole backlog
    batch = claim_batch()
    order = [event.pk for event in batch]
    # In the very first batch, behind no more than the busy one's first-round share.
    assert order.index(single.pk) == settings.SYNC_BATCH_PER_CONNECTION
    # The room the first round left goes to the busy connection.
    assert len(batch) == settings.SYNC_BATCH_SIZE
    from_busy = [event.pk for event in batch if event.connection_id == busy.pk]
    assert from_busy == sorted(from_busy)  # its own in order


@pytest.mark.django_db
def test_a_connection_alone_fills_the_batch(busy_and_quiet, settings):
    busy, _quiet = busy_and_quiet
    received_events(busy, BACKLOG)
    batch = claim_batch()
    assert len(batch) == settings.SYNC_BATCH_SIZE
    assert [event.pk for event in batch] == sorted(event.pk for event in batch)


@pytest.mark.django_db
def test_room_left_over_is_shared_round_robin_by_the_busy_connections(busy_and_quiet):
    busy, other_busy = busy_and_quiet
    received_events(busy, 100)
    received_events(other_busy, 100)
    ids = queue.claim_fairly(
        InboundEvent.objects.all(), limit=20, per_connection=3
    )  # 3 + 3 in the first round, then 7 + 7
    by_connection = dict(InboundEvent.objects.filter(pk__in=ids).values_list("pk", "connection_id"))
    assert [by_connection[pk] for pk in ids] == [busy.pk] * 3 + [other_busy.pk] * 3 + [
        busy.pk
    ] * 7 + [other_busy.pk] * 7


@pytest.mark.django_db
def test_a_busy_connections_backlog_does_not_starve_another_connections_single_push(
    busy_and_quiet, settings
):
    busy, quiet = busy_and_quiet
    released_changes(busy, BACKLOG)
    (single,) = released_changes(quiet, 1)  # released after the whole backlog
    first = queue.claim_fairly(ready_changes(), limit=settings.SYNC_BATCH_SIZE, per_connection=3)
    assert first[3] == single.pk  # behind at most 3 of the busy one's (its first-round share)
    assert len(first) == settings.SYNC_BATCH_SIZE  # the busy one takes the room left


@pytest.mark.django_db
def test_the_push_workers_push_the_single_change_in_their_first_batch(
    busy_and_quiet, settings, monkeypatch
):
    busy, quiet = busy_and_quiet
    settings.SYNC_BATCH_SIZE, settings.SYNC_BATCH_PER_CONNECTION = 4, 3
    for _ in range(20):
        ContactFactory(workspace=busy.workspace)
    ContactFactory(workspace=quiet.workspace)
    OutboundChange.objects.update(enqueued_at=timezone.now())  # released, the quiet one last
    single = OutboundChange.objects.get(connection=quiet)
    first_batch_only = _one_batch(queue.claim_fairly)
    monkeypatch.setattr(queue, "claim_fairly", first_batch_only)
    assert push_due() == {"pushed": 4, "held": 0}
    done = OutboundChange.objects.filter(status=ChangeStatus.DONE)
    assert single.pk in set(done.values_list("pk", flat=True))
    assert done.filter(connection=busy).count() == 3
    assert DeliveryAttempt.objects.filter(outcome="dry_run").count() == 4  # nothing sent


def _one_batch(claim_fairly):
    """claim_fairly for the first batch of a push_due run, nothing after it."""
    calls = []

    def first_only(*args, **kwargs):
        calls.append(1)
        return claim_fairly(*args, **kwargs) if len(calls) == 1 else []

    return first_only


@pytest.mark.django_db
def test_a_batchs_rows_share_their_connection_read_once():
    """One Connection (with its workspace) per connection in a batch, whatever its rows."""
    first, second = ConnectionFactory(), ConnectionFactory()
    received_events(first, 30)
    received_events(second, 20)
    with CaptureQueriesContext(connection) as few:
        events = claim_batch(limit=50)
    assert len(events) == 50
    by_connection = {event.connection_id: event.connection for event in events}
    assert all(event.connection is by_connection[event.connection_id] for event in events)
    with CaptureQueriesContext(connection) as none:
        assert {event.connection.workspace.pk for event in events} == {
            first.workspace_id,
            second.workspace_id,
        }
    assert len(none) == 0
    received_events(first, 30, start=30)
    received_events(second, 20, start=20)
    for event in events:  # done: out of the next claim
        event.status = InboundStatus.PROCESSED
        event.save(update_fields=["status"])
    with CaptureQueriesContext(connection) as again:
        assert len(claim_batch(limit=50)) == 50
    assert len(again) == len(few)


@pytest.mark.django_db(transaction=True)
def test_two_claimers_at_once_never_claim_one_event_twice(settings):
    settings.SYNC_BATCH_SIZE, settings.SYNC_BATCH_PER_CONNECTION = 40, 40
    conns = [ConnectionFactory(workspace=WorkspaceFactory()) for _ in range(2)]
    for conn in conns:
        received_events(conn, 30)

    def claim_all() -> list[int]:
        claimed = []
        while batch := claim_batch():
            claimed += [event.pk for event in batch]
        return claimed

    first, second = in_parallel(claim_all)
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(InboundEvent.objects.values_list("pk", flat=True))
    assert InboundEvent.objects.filter(attempts=1).count() == 60  # each claimed exactly once


@pytest.mark.django_db(transaction=True)
def test_two_push_workers_at_once_never_claim_one_row_twice(settings):
    conn = ConnectionFactory(workspace=WorkspaceFactory())
    released_changes(conn, 40)
    ids = queue.claim_fairly(ready_changes(), limit=100, per_connection=100)

    def claim_the_batch() -> list[int]:
        return [change.pk for change in push.claim_batch(ids)]

    first, second = in_parallel(claim_the_batch)
    assert not set(first) & set(second)
    assert len(first) + len(second) == OutboundChange.objects.count()
    assert set(OutboundChange.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db
def test_a_wake_is_sent_once_until_the_woken_task_starts(monkeypatch):
    sent = []
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: sent.append(args))
    assert queue.wake(PROCESS_TASK) is True
    assert queue.wake(PROCESS_TASK) is False  # another web process: one wake is waiting
    assert queue.wake(PUSH_TASK) is True  # each task has its own flag
    queue.woken(PROCESS_TASK)  # the worker started: later rows need a new wake
    assert queue.wake(PROCESS_TASK) is True
    assert queue.wake(PROCESS_TASK, force=True) is True  # the sweeper's, whatever the flag
    assert sent == [(PROCESS_TASK,), (PUSH_TASK,), (PROCESS_TASK,), (PROCESS_TASK,)]


class ManualTimer(Timer):
    """The process timer without its thread: the test says when the interval is over."""

    def call_later(self, delay: float, callback, *args) -> None:
        self._heap.append((delay, 0, callback, args))


@pytest.mark.django_db
def test_a_busy_intake_looks_at_the_wake_flag_once_per_interval_and_once_after_it(
    monkeypatch, settings
):
    settings.SYNC_WAKE_INTERVAL_SECONDS = 0.05
    timer, looks = ManualTimer(), []
    monkeypatch.setattr(queue, "_timer", timer)
    monkeypatch.setattr(queue, "_intervals", {})
    monkeypatch.setattr(queue, "wake", lambda task, **kwargs: looks.append(task))
    for _ in range(100):  # a burst of deliveries in one web process, within the interval
        queue.wake_soon(PROCESS_TASK)
    assert looks == [PROCESS_TASK]  # the first delivery's wake
    assert [delay for delay, *_ in timer._heap] == [pytest.approx(0.05, abs=0.05)]
    timer.flush()  # the interval is over: one more look covers the burst's last deliveries
    assert looks == [PROCESS_TASK, PROCESS_TASK]


@pytest.mark.django_db
def test_a_wake_the_broker_refuses_leaves_no_flag_behind(monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(queue, "async_task", broker_down)
    assert queue.wake(PROCESS_TASK) is False
    sent = []
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: sent.append(args))
    assert queue.wake(PROCESS_TASK) is True and sent == [(PROCESS_TASK,)]


def _sweep_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        tasks.sweep()
        sweep_inbound()
    return len(queries)


@pytest.mark.django_db
def test_the_sweepers_cost_the_same_with_10_or_200_idle_connections():
    for _ in range(10):
        ConnectionFactory(workspace=WorkspaceFactory())
    with_ten = _sweep_queries()
    for _ in range(190):
        ConnectionFactory(workspace=WorkspaceFactory())
    assert _sweep_queries() == with_ten


@pytest.mark.django_db
def test_an_event_waiting_for_its_retry_time_is_not_claimed(settings):
    conn = ConnectionFactory(workspace=WorkspaceFactory())
    (waiting,) = received_events(conn, 1)
    later = timezone.now() + timedelta(seconds=60)
    InboundEvent.objects.filter(pk=waiting.pk).update(attempts=1, lease_until=later)
    assert claim_batch() == []
    InboundEvent.objects.filter(pk=waiting.pk).update(lease_until=timezone.now())
    assert [event.pk for event in claim_batch()] == [waiting.pk]
    assert InboundEvent.objects.get(pk=waiting.pk).status == InboundStatus.RECEIVED


def _looked_up_by_token(sql: str) -> bool:
    return '"lease_token"' in sql.partition(" WHERE ")[2]


@pytest.mark.django_db
def test_claimed_rows_and_their_lease_renewals_are_found_by_key_not_token_alone():
    """The lease token has no index and the tables keep their history: a look-up by the token
    alone scanned every event or change ever received, once per batch."""
    conn = ConnectionFactory(workspace=WorkspaceFactory())
    received_events(conn, 5)
    released_changes(conn, 5)
    with CaptureQueriesContext(connection) as queries:
        events = claim_batch(limit=5)
        changes = push.claim_batch(queue.claim_fairly(ready_changes(), limit=5, per_connection=5))
        with (
            leases.holding(InboundEvent, events[0].lease_token, [e.pk for e in events]),
            leases.holding(OutboundChange, changes[0].lease_token, [c.pk for c in changes]),
        ):
            InboundEvent.objects.update(lease_until=timezone.now())  # due for renewal
            OutboundChange.objects.update(lease_until=timezone.now())
            assert leases.keeper.renew() == 10
    by_token = [query["sql"] for query in queries if _looked_up_by_token(query["sql"])]
    assert len(by_token) >= 4  # the two claims' reads and the two renewals
    assert all('"id" IN' in sql.partition(" WHERE ")[2] for sql in by_token), by_token
