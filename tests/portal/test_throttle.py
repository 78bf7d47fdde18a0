"""The shared-cache counters behind the API's and the webhooks' rate limits."""

import pytest
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

from portal import throttle

ON_REDIS = isinstance(
    caches[DEFAULT_CACHE_ALIAS], RedisCache
)  # the suite runs with and without REDIS_URL


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
    if ON_REDIS:  # every command fails, whichever client sends it; no connection is to be had
        import redis

        def unreachable(*args, **kwargs):
            raise redis.ConnectionError("Connection refused")

        monkeypatch.setattr(redis.Redis, "execute_command", down)
        monkeypatch.setattr(redis.ConnectionPool, "get_connection", unreachable)
    window = throttle.count("test:c", "1/second")
    assert not window.exceeded and window.remaining == 1
    assert throttle.hit("test:c", "1/second") == 0.0
    assert "unavailable; request allowed" in caplog.text


def test_a_counter_lives_one_period_past_its_window_and_counts_from_one(db, pinned_clock):
    for _ in range(2):
        throttle.count("test:d", "5/minute")
    counter = "throttle:test:d:999960"  # the window that starts at 999,960 s
    assert cache.get(counter) == 2
    if ON_REDIS:
        backend = caches[DEFAULT_CACHE_ALIAS]
        key = backend.make_and_validate_key(counter)
        assert 0 < backend._cache.get_client(key).ttl(key) <= 61


@pytest.fixture
def redis_commands(monkeypatch) -> list[str]:
    """The commands sent to Redis from now on (the counter's script loaded first)."""
    import redis

    sent = []
    original = redis.connection.AbstractConnection.send_command

    def counting(self, *args, **kwargs):
        sent.append(args[0])
        return original(self, *args, **kwargs)

    throttle.count("test:warm", "2/second")  # the server has the script from now on
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_command", counting)
    return sent


def test_on_redis_a_request_is_counted_in_one_round_trip(db, pinned_clock, redis_commands):
    """The cache API's incr is two (EXISTS, INCRBY), three or four in a window's first request."""
    sent = redis_commands
    windows = [throttle.count("test:e", "2/second") for _ in range(3)]
    assert [w.exceeded for w in windows] == [False, False, True]
    # Without Redis the database cache is used (its own statements; nothing goes to Redis).
    assert sent == (["EVALSHA"] * 3 if ON_REDIS else [])


def test_on_redis_the_counter_reuses_one_client(db, pinned_clock, monkeypatch):
    """The cache makes a new client (its callbacks set up) per operation; the counter does not."""
    import redis

    made = []
    original = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        made.append(1)
        original(self, *args, **kwargs)

    throttle.count("test:f", "5/second")  # the first may make the process's client
    monkeypatch.setattr(redis.Redis, "__init__", counting)
    for _ in range(3):
        throttle.count("test:f", "5/second")
    assert made == [] and cache.get(f"throttle:test:f:{1_000_000}") == 4


def test_on_redis_the_counter_skips_the_clients_command_layer(db, pinned_clock, monkeypatch):
    """The script goes straight to a pooled connection: redis-py's client dispatch, retries
    and reply callbacks cost about as much CPU as the round trip, on every webhook."""
    import redis

    through_client = []
    original = redis.Redis.execute_command

    def counting(self, *args, **kwargs):
        through_client.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    windows = [throttle.count("test:g", "2/second") for _ in range(3)]
    assert [w.exceeded for w in windows] == [False, False, True]
    assert through_client == []


def test_on_redis_a_connection_the_server_closed_is_replaced_not_counted_as_down(
    db, pinned_clock, caplog
):
    throttle.count("test:h", "5/second")
    if ON_REDIS:  # the pooled connection's socket goes away, as when Redis restarts
        import socket

        pool = throttle._redis_pool(caches[DEFAULT_CACHE_ALIAS])
        for connection in pool._available_connections:
            connection._sock.shutdown(socket.SHUT_RDWR)
    assert throttle.count("test:h", "5/second").count == 2
    assert "unavailable" not in caplog.text


# --- hit_in_batches: the webhooks' counter, told to the shared cache a batch at a time ------


def shared_count(name: str, period: int = 1) -> int | None:
    start = int(1_000_000.5 // period) * period
    return cache.get(f"throttle:{name}:{start}")


def test_a_process_tells_the_shared_counter_a_tenth_of_the_limit_at_a_time(db, pinned_clock):
    waits = [throttle.hit_in_batches("test:i", "100/second") for _ in range(9)]
    assert waits == [0.0] * 9 and shared_count("test:i") is None  # nothing sent yet
    assert throttle.hit_in_batches("test:i", "100/second") == 0.0
    assert shared_count("test:i") == 10  # the batch of ten, in one increment
    for _ in range(10):
        throttle.hit_in_batches("test:i", "100/second")
    assert shared_count("test:i") == 20


def test_on_redis_a_batch_costs_one_round_trip(db, pinned_clock, redis_commands):
    for _ in range(30):
        throttle.hit_in_batches("test:j", "100/second")
    assert redis_commands == (["EVALSHA"] * 3 if ON_REDIS else [])
    assert shared_count("test:j") == 30


def test_once_the_shared_count_is_past_the_limit_a_process_refuses_without_asking_again(
    db, pinned_clock, monkeypatch
):
    for _ in range(9):
        throttle.hit_in_batches("test:k", "100/second")
    cache.set("throttle:test:k:1000000", 95)  # the other processes' requests this second
    # Its batch brings the window to 105: that request is refused, and so is every later one
    # (the batch's first nine were admitted before anyone knew: the bounded overshoot).
    assert throttle.hit_in_batches("test:k", "100/second") == pytest.approx(0.5)
    told = []
    monkeypatch.setattr(throttle, "_increment", lambda *args: told.append(args) or 0)
    assert throttle.hit_in_batches("test:k", "100/second") == pytest.approx(0.5)
    assert told == []  # refused here, nothing sent
    assert shared_count("test:k") == 105


def test_a_new_window_starts_from_nothing_in_the_process_too(db, monkeypatch):
    now = [2_000_000.2]
    monkeypatch.setattr(throttle, "clock", lambda: now[0])
    waits = [throttle.hit_in_batches("test:l", "20/second") for _ in range(20)]  # batches of 2
    assert waits == [0.0] * 20
    assert throttle.hit_in_batches("test:l", "20/second") == pytest.approx(0.8)
    now[0] += 1  # the next second
    assert throttle.hit_in_batches("test:l", "20/second") == 0.0
    assert cache.get("throttle:test:l:2000001") is None  # one request: its batch is not full
    assert throttle.hit_in_batches("test:l", "20/second") == 0.0
    assert cache.get("throttle:test:l:2000001") == 2


def test_a_small_limit_is_counted_exactly_request_by_request(db, pinned_clock):
    waits = [throttle.hit_in_batches("test:m", "19/second") for _ in range(20)]
    assert waits == [0.0] * 19 + [pytest.approx(0.5)]
    assert shared_count("test:m") == 20
    assert throttle._local == {}


def test_batched_counting_with_the_cache_down_lets_requests_through(
    db, pinned_clock, monkeypatch, caplog
):
    def down(*args):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(throttle, "_increment", down)
    waits = [throttle.hit_in_batches("test:n", "100/second") for _ in range(25)]
    assert waits == [0.0] * 25
    assert caplog.text.count("unavailable; request allowed") == 2  # once per batch
