"""A push waits for its record to be quiet — in a timer, not in a worker — so a burst of
changes becomes one call carrying the latest state."""

import heapq
import json
import math
import multiprocessing
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.services import contact_update
from sync.engine import debounce
from sync.engine.debounce import PUSH_TASK, Timer, quiet_periods
from sync.engine.outbox import changes_arrived_at
from sync.engine.push import push_due, sweep
from sync.models import ChangeStatus, OutboundChange
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory


def last_names_sent(crm) -> list[str]:
    return [json.loads(call.request.body)["lastName"] for call in crm.calls]


def quiet_in(change_id: int) -> float:
    return quiet_periods([change_id]).get(change_id, 0.0)


def age(row: OutboundChange, seconds: float) -> None:
    """As if its change had reached the portal `seconds` earlier."""
    OutboundChange.objects.filter(pk=row.pk).update(
        created_at=row.created_at - timedelta(seconds=seconds),
        changed_at=row.changed_at - timedelta(seconds=seconds),
    )


@pytest.mark.django_db
def test_a_fresh_change_waits_for_the_quiet_period(linked_contact, actor, settings):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 2
    contact_update(linked_contact, actor=actor, data={"last_name": "Fresh"})
    assert 1.5 < quiet_in(OutboundChange.objects.get().pk) <= 2


@pytest.mark.django_db
def test_an_older_row_waits_for_the_newest_change_of_its_record(linked_contact, actor, settings):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 2
    contact_update(linked_contact, actor=actor, data={"last_name": "One"})
    first = OutboundChange.objects.get()
    age(first, 1.5)
    contact_update(linked_contact, actor=actor, data={"last_name": "Two"})
    assert 1.5 < quiet_in(first.pk) <= 2  # counted from "Two", not from "One"


@pytest.mark.django_db
def test_no_wait_for_a_backlog_row_a_finished_row_or_no_debounce(linked_contact, actor, settings):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 2
    contact_update(linked_contact, actor=actor, data={"last_name": "Old"})
    row = OutboundChange.objects.get()
    age(row, 3)
    assert quiet_in(row.pk) == 0.0
    contact_update(linked_contact, actor=actor, data={"last_name": "New"})
    newest = OutboundChange.objects.latest("id")
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 0
    assert quiet_in(newest.pk) == 0.0
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 2
    OutboundChange.objects.filter(pk=newest.pk).update(status=ChangeStatus.DONE)
    assert quiet_in(newest.pk) == 0.0


@pytest.mark.django_db
def test_a_change_that_arrived_earlier_waits_only_the_rest_of_its_quiet_period(
    linked_contact, actor, settings
):
    """A webhook's change counts from the delivery's receipt (sync/inbound/processing.py): the
    time a worker took to get to it is not added to the wait."""
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 2
    arrived = timezone.now() - timedelta(seconds=0.5)
    with changes_arrived_at(arrived):
        contact_update(linked_contact, actor=actor, data={"last_name": "Delivered"})
    row = OutboundChange.objects.get()
    assert row.changed_at == arrived
    assert 1.3 < quiet_in(row.pk) <= 1.5


@pytest.mark.django_db
def test_behind_by_more_than_a_quiet_period_the_wait_counts_from_the_rows_creation(
    linked_contact, actor, settings
):
    """Behind the inbound queue, the record's changes still queued get their time to join."""
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 2
    arrived = timezone.now() - timedelta(seconds=5)
    with changes_arrived_at(arrived):
        contact_update(linked_contact, actor=actor, data={"last_name": "Late"})
    row = OutboundChange.objects.get()
    assert row.changed_at > arrived + timedelta(seconds=4)
    assert 1.5 < quiet_in(row.pk) <= 2


@pytest.mark.django_db
def test_a_record_that_never_stops_changing_waits_at_most_ten_quiet_periods(
    linked_contact, actor, settings
):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 1
    contact_update(linked_contact, actor=actor, data={"last_name": "Start"})
    first = OutboundChange.objects.get()
    age(first, 9.5)
    contact_update(linked_contact, actor=actor, data={"last_name": "Still going"})
    assert 0 < quiet_in(first.pk) <= 0.5  # the cap, not a whole second after "Still going"


@pytest.mark.django_db
def test_a_batch_learns_which_rows_wait_in_two_queries(
    linked_contact, actor, settings, django_assert_max_num_queries
):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 2
    contact_update(linked_contact, actor=actor, data={"last_name": "Quiet"})
    quiet = OutboundChange.objects.get()
    age(quiet, 3)
    OutboundChange.objects.filter(pk=quiet.pk).update(status=ChangeStatus.DONE)
    contact_update(linked_contact, actor=actor, data={"last_name": "Busy"})
    busy = OutboundChange.objects.latest("id")
    backlog = OutboundChange.objects.create(
        connection=busy.connection, object_type="contact", object_id=10**9
    )
    age(backlog, 30)
    with django_assert_max_num_queries(2):
        waits = quiet_periods([quiet.pk, busy.pk, backlog.pk])
    assert set(waits) == {busy.pk}  # finished and long-waiting rows go now
    assert 1.5 < waits[busy.pk] <= 2


@pytest.mark.django_db
def test_a_held_row_is_left_to_the_sweeper_should_its_timer_die(
    linked_contact, actor, settings, enqueued, monkeypatch
):
    monkeypatch.setattr(debounce, "_timer", Timer())  # this process's timer "dies" unfired
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 60
    contact_update(linked_contact, actor=actor, data={"last_name": "Held"})
    row = OutboundChange.objects.get()
    OutboundChange.objects.filter(pk=row.pk).update(enqueued_at=timezone.now())  # a sweep
    assert push_due() == {"pushed": 0, "held": 1}  # its record is not quiet yet
    assert OutboundChange.objects.get(pk=row.pk).enqueued_at is None
    enqueued.clear()
    sweep()  # the process holding the timer is gone: the next sweep releases the row
    assert OutboundChange.objects.get(pk=row.pk).enqueued_at is not None
    assert enqueued == [(PUSH_TASK,)]


START = 1000.001  # the clock when a test's changes commit (not on a tick's edge)


def released_after(committed: float, quiet: float = 0.2) -> float:
    """The timer's delay for rows committed at `committed`: the quiet period, then the end of
    the release tick it ends in."""
    tick = debounce.RELEASE_TICK_SECONDS
    delay = math.ceil((committed + quiet) / tick) * tick - committed
    assert quiet <= delay < quiet + tick
    return delay


class ManualTimer(Timer):
    """The debounce timer without its thread: the test says when the quiet period is over."""

    def call_later(self, delay: float, callback, *args) -> None:
        heapq.heappush(self._heap, (delay, next(self._order), callback, args))

    def delays(self) -> list[float]:
        return [entry[0] for entry in self._heap]


@pytest.fixture
def timer(monkeypatch) -> ManualTimer:
    manual = ManualTimer()
    monkeypatch.setattr(debounce, "_timer", manual)
    monkeypatch.setattr(debounce, "_clock", lambda: START)
    monkeypatch.setattr(debounce, "_due", {})  # no tick of an earlier test
    monkeypatch.setattr(debounce, "_age", lambda changed_at: 0.0)  # committed as created
    return manual


@pytest.mark.django_db(transaction=True)
def test_a_new_change_is_enqueued_after_the_quiet_period_not_at_commit(
    linked_contact, actor, settings, enqueued, timer
):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 0.2
    enqueued.clear()  # the fixture's own contact, created before the debounce was set
    contact_update(linked_contact, actor=actor, data={"last_name": "Soon"})  # commits
    row = OutboundChange.objects.get()
    assert enqueued == [] and timer.delays() == pytest.approx([released_after(START)])  # quiet
    assert OutboundChange.objects.get(pk=row.pk).enqueued_at is None
    timer.flush()  # the quiet period is over: released, the workers woken
    assert enqueued == [(PUSH_TASK,)]
    assert OutboundChange.objects.get(pk=row.pk).enqueued_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_changes_of_one_tick_are_released_with_one_update_and_one_wake(
    workspace, actor, settings, enqueued, timer, monkeypatch
):
    ConnectionFactory(workspace=workspace)
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 0.2
    for number in range(5):  # five commits in the same tick
        ContactFactory(workspace=workspace, email=f"tick{number}@example.com")
    later = START + 3 * debounce.RELEASE_TICK_SECONDS  # its quiet period ends ticks later
    monkeypatch.setattr(debounce, "_clock", lambda: later)
    ContactFactory(workspace=workspace, email="later@example.com")
    both = sorted([released_after(START), released_after(later)])
    assert sorted(timer.delays()) == pytest.approx(both)  # two ticks
    enqueued.clear()
    _due, _order, release, args = min(timer._heap, key=lambda entry: entry[1])  # the first
    with CaptureQueriesContext(connection) as queries:
        release(*args)
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1 and "sync_outboundchange" in updates[0]["sql"]
    assert OutboundChange.objects.filter(enqueued_at__isnull=False).count() == 5
    assert enqueued == [(PUSH_TASK,)]


@pytest.mark.django_db(transaction=True)
def test_the_quiet_period_counts_from_the_rows_creation_not_from_the_commit(
    linked_contact, actor, settings, timer, monkeypatch
):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 0.2
    monkeypatch.setattr(debounce, "_age", lambda changed_at: 0.05)  # a 50 ms transaction
    contact_update(linked_contact, actor=actor, data={"last_name": "Slow commit"})
    assert timer.delays() == pytest.approx([released_after(START, quiet=0.15)])


@pytest.mark.django_db(transaction=True)
def test_the_timer_waits_the_rest_of_the_quiet_period_from_the_changes_arrival(
    linked_contact, actor, settings, timer, monkeypatch
):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 0.2
    ages = []
    monkeypatch.setattr(debounce, "_age", lambda changed_at: ages.append(changed_at) or 0.05)
    arrived = timezone.now() - timedelta(seconds=0.05)
    with changes_arrived_at(arrived):
        contact_update(linked_contact, actor=actor, data={"last_name": "Delivered"})
    assert ages == [arrived]
    assert timer.delays() == pytest.approx([released_after(START, quiet=0.15)])


@pytest.mark.django_db(transaction=True)
def test_a_burst_is_held_then_pushed_once_with_the_latest_state(
    crm, linked_contact, actor, settings, enqueued, timer
):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 0.2
    crm.put(CRM + "/contacts/C1", json={"contact": {"id": "C1"}})
    enqueued.clear()
    for name in ("A", "B", "C"):
        contact_update(linked_contact, actor=actor, data={"last_name": name})
    rows = list(OutboundChange.objects.order_by("id").values_list("pk", flat=True))
    assert enqueued == [] and timer.delays() == pytest.approx([released_after(START)])  # one tick
    for row in OutboundChange.objects.all():
        age(row, 1)  # the quiet period is over ...
    timer.flush()  # ... and the timer fires: all three released, the workers woken
    assert set(enqueued) == {(PUSH_TASK,)}
    assert OutboundChange.objects.filter(enqueued_at__isnull=True).count() == 0
    assert push_due() == {"pushed": 1, "held": 0}  # the first carries the other two
    assert last_names_sent(crm) == ["C"]
    assert sorted(rows) == sorted(OutboundChange.objects.values_list("pk", flat=True))
    statuses = sorted(OutboundChange.objects.values_list("status", flat=True))
    assert statuses == [ChangeStatus.COALESCED, ChangeStatus.COALESCED, ChangeStatus.DONE]


def test_the_timer_runs_callbacks_in_time_order_and_survives_a_failing_one():
    timer, ran, done = Timer(), [], threading.Event()

    def fail() -> None:
        raise RuntimeError("broker down")

    timer.call_later(0.10, ran.append, "late")
    timer.call_later(0.02, fail)
    timer.call_later(0.05, ran.append, "early")
    timer.call_later(0.15, done.set)
    assert done.wait(5)
    assert ran == ["early", "late"] and timer.pending() == 0


def test_one_thread_serves_every_callback_of_a_timer():
    timer, threads, done = Timer(), set(), threading.Event()
    for _ in range(50):
        timer.call_later(0.01, lambda: threads.add(threading.current_thread()))
    timer.call_later(0.02, done.set)
    assert done.wait(5)
    assert threads == {timer._thread}


def test_an_exiting_process_enqueues_what_it_still_holds():
    timer, ran = Timer(), []
    timer.call_later(60, ran.append, "held")
    timer.flush()
    assert ran == ["held"] and timer.pending() == 0


def test_a_task_worker_that_ends_normally_enqueues_what_its_timer_still_holds(tmp_path):
    """django-q2 ends each worker process after a number of tasks: it returns from its target
    and leaves through os._exit, which runs no atexit handler. What its timer held must not wait
    for the sweeper."""
    released = tmp_path / "released"

    def worker() -> None:
        Timer().call_later(3600, released.write_text, "held, then released at exit")

    process = multiprocessing.get_context("fork").Process(target=worker)
    process.start()
    process.join(10)
    assert process.exitcode == 0
    assert released.read_text() == "held, then released at exit"
