"""The shared-cache counters behind the API's and the webhooks' rate limits."""

import pytest
from django.core.cache import cache

from portal import throttle


@pytest.fixture
def pinned_clock(monkeypatch):
    monkeypatch.setattr(throttle, "clock", lambda: 1_000_000.5)


def test_a_window_counts_up_to_its_limit_then_says_how_long_to_wait(db, pinned_clock):
    windows = [throttle.count("test:a", "3/minute") for _ in range(4)]
    assert [w.remaining for w in windows] == [2, 1, 0, 0]
    assert [w.exceeded for w in windows] == [False, False, False, True]
    assert windows[-1].headers() == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "20",  # 1,000,000.5 is 40.5 s into its minute
    }
    assert throttle.hit("test:a", "3/minute") == pytest.approx(19.5)
    assert throttle.hit("test:b", "3/minute") == 0.0  # another name, another counter


def test_a_cache_that_is_down_lets_requests_through(db, pinned_clock, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(cache, "incr", down)
    monkeypatch.setattr(cache, "add", down)
    window = throttle.count("test:c", "1/second")
    assert not window.exceeded and window.remaining == 1
    assert throttle.hit("test:c", "1/second") == 0.0
    assert "unavailable; request allowed" in caplog.text
