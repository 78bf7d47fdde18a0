import threading
import time

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from sync.transport.ratelimit import (
    DatabaseLimiter,
    RateLimited,
    RedisLimiter,
    limiter_for,
    limiter_key,
)
from tests.sync.factories import ConnectionFactory


def test_limiter_follows_the_configured_backend(settings, db):
    conn = ConnectionFactory(rate_limit_requests=7)
    settings.REDIS_URL = ""
    limiter = limiter_for(conn)
    assert isinstance(limiter, DatabaseLimiter)
    assert (limiter.limit, limiter.interval, limiter.daily) == (7, 10.0, 200_000)
    assert limiter_key(conn) == f"highlevel:{conn.location_id}"


@pytest.mark.django_db
def test_sliding_window_saturates_then_waits_then_allows_again():
    limiter = limiter_for(ConnectionFactory(rate_limit_requests=3, rate_limit_interval_seconds=1))
    assert [limiter.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.try_acquire()
    assert 0 < wait <= 1.0
    time.sleep(wait + 0.05)
    assert limiter.try_acquire() == 0.0


@pytest.mark.django_db
def test_daily_quota_and_pause():
    limiter = limiter_for(ConnectionFactory(rate_limit_requests=100, rate_limit_daily=2))
    assert limiter.try_acquire() == 0.0 and limiter.try_acquire() == 0.0
    assert limiter.try_acquire() > 0  # until the next UTC day
    other = limiter_for(ConnectionFactory())
    other.pause(30)
    assert 29 < other.try_acquire() <= 30
    with pytest.raises(RateLimited) as exc:
        other.acquire(max_wait=0.1)
    assert exc.value.retry_after > 29


# The database limiter always; the Redis one too when the suite runs with REDIS_URL.
BACKENDS = ["database"] + (["redis"] if settings.REDIS_URL else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.django_db(transaction=True)
def test_never_exceeds_the_limit_under_concurrency(backend, settings):
    if backend == "database":
        settings.REDIS_URL = ""
    conn = ConnectionFactory(rate_limit_requests=20, rate_limit_interval_seconds=60)
    granted, errors = [], []

    def hammer():
        try:
            limiter = limiter_for(conn)
            for _ in range(10):
                if limiter.try_acquire() == 0.0:
                    granted.append(1)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(granted) == 20  # saturated, never exceeded
    assert isinstance(limiter_for(conn), RedisLimiter if backend == "redis" else DatabaseLimiter)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.django_db
def test_window_count_counts_only_requests_inside_the_window(backend, settings):
    if backend == "database":
        settings.REDIS_URL = ""
    limiter = limiter_for(ConnectionFactory(rate_limit_requests=5, rate_limit_interval_seconds=1))
    assert limiter.window_count() == 0
    limiter.try_acquire()
    limiter.try_acquire()
    assert limiter.window_count() == 2
    time.sleep(1.05)
    assert limiter.window_count() == 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.django_db
def test_settle_counts_the_request_from_its_answer(backend, settings):
    if backend == "database":
        settings.REDIS_URL = ""
    conn = ConnectionFactory(rate_limit_requests=1, rate_limit_interval_seconds=1)
    limiter = limiter_for(conn)
    assert limiter.try_acquire() == 0.0
    time.sleep(0.5)  # the remote takes half a second to answer
    limiter.settle()
    # The remote counted the request on arrival: the slot frees a full interval after the answer.
    assert 0.9 < limiter_for(conn).try_acquire() <= 1.0


@pytest.mark.django_db
def test_the_database_limiter_reads_its_bucket_once_per_request(settings):
    """One locked read and one write per request once the bucket exists (embedded mode, where
    every push asks it)."""
    settings.REDIS_URL = ""
    limiter = limiter_for(ConnectionFactory(rate_limit_requests=100))
    assert limiter.try_acquire() == 0.0  # makes the bucket
    with CaptureQueriesContext(connection) as queries:
        assert limiter.try_acquire() == 0.0
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert [s for s in statements if s in ("SELECT", "INSERT", "UPDATE")] == ["SELECT", "UPDATE"]


# Redis only: a test of the suite's run with REDIS_URL (the database limiter runs no script).
if settings.REDIS_URL:

    @pytest.mark.django_db
    def test_the_redis_limiter_runs_its_scripts_by_their_sha1_even_after_a_script_flush():
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        limiter = limiter_for(ConnectionFactory(rate_limit_requests=100))
        client.script_flush()  # as a restarted Redis would have it: loaded again, not failed

        def calls(command: str) -> int:
            return client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)

        before = {command: calls(command) for command in ("eval", "evalsha")}
        for _ in range(3):
            assert limiter.try_acquire() == 0.0
            limiter.settle()
        # Each script's text is sent once (NOSCRIPT after the flush), then only its SHA1.
        assert calls("eval") - before["eval"] <= 2
        assert calls("evalsha") - before["evalsha"] == 6
        assert limiter.window_count() == 3

    @pytest.mark.django_db
    def test_a_deferred_settle_rides_on_the_next_acquire_and_the_last_is_sent_at_the_end():
        import redis

        from sync.transport.ratelimit import settles_deferred

        client = redis.Redis.from_url(settings.REDIS_URL)
        conn = ConnectionFactory(rate_limit_requests=100)
        window = f"portal:ratelimit:{limiter_for(conn).key}:window"

        def evalsha_calls() -> int:
            return client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)

        def score(member: str) -> float:
            return client.zscore(window, member)

        limiter_for(conn).try_acquire()  # the scripts loaded
        before, members = evalsha_calls(), []
        with settles_deferred():
            for _ in range(3):
                limiter = limiter_for(conn)
                assert limiter.try_acquire() == 0.0
                if members:  # the request before was settled by this acquire: counted from now
                    assert score(members[-1]) == score(limiter.ticket)
                members.append(limiter.ticket)
                limiter.settle()
                client.zadd(window, {members[-1]: 1}, xx=True)  # as if granted long ago
                assert score(members[-1]) == 1  # not settled yet: it waits for the next acquire
            assert evalsha_calls() - before == 3  # one round trip per call
        assert evalsha_calls() - before == 4  # the last settle, sent as the block ends
        assert score(members[-1]) > 1
        assert limiter_for(conn).window_count() == 4
