"""Backfill's fetch thread asks the main thread for rate-limit permits: the main thread grants
them without blocking, so what else the thread sends meanwhile — above all the settles of calls
already answered — is handled at once. A settle counts its call from the moment it is handled:
one handled a whole interval late held the next interval's calls back (a 60 s backfill at the
CRM's limit made 501 of its 600 allowed calls)."""

import threading

import pytest

from ops import backfill_fetch
from sync.transport.ratelimit import RateLimited
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
GUARD_SECONDS = 30  # only so that a broken loop fails instead of hanging; no timing asserted


class ScriptedLimiter:
    """A limiter answering try_acquire from a script of waits (seconds; 0 = granted)."""

    def __init__(self, log: list, waits: list[float]) -> None:
        self.log, self.waits = log, waits

    def try_acquire(self) -> float:
        wait = self.waits.pop(0)
        self.log.append(("try_acquire", wait))
        return wait

    def acquire(self, max_wait: float | None = None) -> None:
        self.log.append("acquire, blocking the main thread")

    def settle(self) -> None:
        self.log.append("settle")


@pytest.fixture
def log() -> list:
    return []


def prefetcher_with(monkeypatch, log: list, waits: list[float]) -> backfill_fetch.Prefetcher:
    monkeypatch.setattr(backfill_fetch, "limiter_for", lambda _c: ScriptedLimiter(log, waits))
    return backfill_fetch.Prefetcher(
        ConnectionFactory(), lambda _connector: None, ("contact", None)
    )


def handle(prefetcher: backfill_fetch.Prefetcher, *messages: tuple) -> None:
    """The main thread's loop over these messages from the fetch thread, then its end."""
    for message in (*messages, ("end", None)):
        prefetcher._inbox.put(message)
    assert list(prefetcher._batches()) == []


def test_a_call_answered_while_the_thread_waits_for_a_permit_is_settled_at_once(monkeypatch, log):
    prefetcher = prefetcher_with(monkeypatch, log, waits=[9.0])
    answered = ScriptedLimiter(log, [])
    handle(prefetcher, ("permit", None), ("settle", answered))
    assert log == [("try_acquire", 9.0), "settle"]  # not after a 9 s sleep
    assert prefetcher._permits.empty()


def test_the_permit_is_granted_once_the_limiters_wait_is_over(monkeypatch, log):
    prefetcher = prefetcher_with(monkeypatch, log, waits=[0.05, 0.0])
    prefetcher._inbox.put(("permit", None))
    main = threading.Thread(target=lambda: list(prefetcher._batches()))
    main.start()
    granted = prefetcher._permits.get(timeout=GUARD_SECONDS)
    prefetcher._inbox.put(("end", None))
    main.join(GUARD_SECONDS)
    assert isinstance(granted, ScriptedLimiter)
    assert log == [("try_acquire", 0.05), ("try_acquire", 0.0)]


def test_a_permit_granted_ahead_since_the_thread_asked_is_the_one_it_takes(monkeypatch, log):
    prefetcher = prefetcher_with(monkeypatch, log, waits=[])
    ahead = ScriptedLimiter(log, [])
    prefetcher._permits.put(ahead)
    handle(prefetcher, ("permit", None))
    assert log == []  # no second permit counted in the window
    assert prefetcher._permits.get_nowait() is ahead and prefetcher._permits.empty()


def test_past_the_longest_wait_the_thread_is_told_at_once(monkeypatch, log, settings):
    settings.SYNC_RATE_LIMIT_WAIT_SECONDS = 15
    prefetcher = prefetcher_with(monkeypatch, log, waits=[20.0])
    handle(prefetcher, ("permit", None))
    refused = prefetcher._permits.get_nowait()
    assert isinstance(refused, RateLimited) and refused.retry_after == 20.0
