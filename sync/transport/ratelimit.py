"""A per-remote rate limiter shared by every process on every machine.

Sliding window (never more than `limit` requests in any `interval`) plus a per-UTC-day quota,
and a pause the remote can impose (429 Retry-After, X-RateLimit-Remaining: 0).

- With REDIS_URL: one Lua script per attempt (run by its SHA1), so check-and-record is atomic
  on the Redis server and timed by the Redis clock (no skew between machines).
- Without: a RateLimitBucket row updated under SELECT … FOR UPDATE (PostgreSQL) or inside
  SQLite's IMMEDIATE transaction (which holds the database write lock). Django's DatabaseCache
  is not used: its incr is a read-then-write, not atomic across processes.

    limiter_for(connection).acquire(max_wait)   blocks until allowed, else raises RateLimited
    limiter_for(connection).try_acquire()       -> seconds to wait (0.0 = granted and counted)
    limiter_for(connection).pause(seconds)      nobody sends before then
    limiter_for(connection).window_count()      -> requests counted in the current window
    limiter.settle()                            the granted request was answered: count it from now
    with settles_deferred(): ...                a settle rides on the next acquire (Redis)

A request is counted when it is allowed, and counted again from the moment it is answered
(settle): the remote counted it on arrival, after we allowed it, so counting from the answer
keeps each of our windows at least as long as the remote's and the next request never lands
while the remote still counts the old one (no 429 from our own traffic).
"""

import abc
import datetime
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.db import transaction

from portal.redis_script import RedisScript
from sync.models import Connection, RateLimitBucket


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Rate limit reached; retry in {retry_after:.1f} s.")
        self.retry_after = retry_after


def seconds_to_next_utc_day(now: float) -> float:
    today = datetime.datetime.fromtimestamp(now, tz=datetime.UTC).date()
    midnight = datetime.datetime.combine(
        today + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC
    )
    return max(midnight.timestamp() - now, 0.001)


def _utc_day(now: float) -> str:
    return datetime.datetime.fromtimestamp(now, tz=datetime.UTC).date().isoformat()


@dataclass
class Limiter(abc.ABC):
    key: str
    limit: int
    interval: float
    daily: int
    # What the last granted try_acquire recorded, for settle() (a per-call object: see http.py).
    ticket: str | float | None = field(default=None, init=False, repr=False)

    def acquire(self, max_wait: float | None = None) -> None:
        max_wait = settings.SYNC_RATE_LIMIT_WAIT_SECONDS if max_wait is None else max_wait
        deadline = time.monotonic() + max_wait
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return
            if time.monotonic() + wait > deadline:
                raise RateLimited(wait)
            time.sleep(wait)

    @abc.abstractmethod
    def try_acquire(self) -> float:
        """Seconds to wait; 0.0 means the request is allowed and has been counted."""

    @abc.abstractmethod
    def pause(self, seconds: float) -> None:
        """Nobody using this key sends for `seconds`."""

    @abc.abstractmethod
    def settle(self) -> None:
        """The request granted last was answered (or failed): count it from now."""

    @abc.abstractmethod
    def window_count(self) -> int:
        """Requests counted in the last `interval`."""


class DatabaseLimiter(Limiter):
    def try_acquire(self) -> float:
        with transaction.atomic():
            bucket = self._locked_bucket()
            now = time.time()
            wait = self._decide(bucket, now)
            bucket.save()
        return wait

    def _locked_bucket(self) -> RateLimitBucket:
        """The key's bucket, locked for this transaction (made on first use)."""
        bucket = RateLimitBucket.objects.select_for_update().filter(key=self.key).first()
        if bucket is not None:
            return bucket
        RateLimitBucket.objects.get_or_create(key=self.key)  # a concurrent first use may win
        return RateLimitBucket.objects.select_for_update().get(key=self.key)

    def _decide(self, bucket: RateLimitBucket, now: float) -> float:
        bucket.hits = sorted(t for t in bucket.hits if t > now - self.interval)
        if bucket.day != _utc_day(now):
            bucket.day, bucket.day_count = _utc_day(now), 0
        if bucket.paused_until > now:
            return bucket.paused_until - now
        if bucket.day_count >= self.daily:
            return seconds_to_next_utc_day(now)
        if len(bucket.hits) >= self.limit:
            return max(bucket.hits[-self.limit] + self.interval - now, 0.001)
        bucket.hits.append(now)
        bucket.day_count += 1
        self.ticket = now
        return 0.0

    def settle(self) -> None:
        if self.ticket is None:
            return
        with transaction.atomic():
            bucket = RateLimitBucket.objects.select_for_update().filter(key=self.key).first()
            if bucket is not None and self.ticket in bucket.hits:
                bucket.hits[bucket.hits.index(self.ticket)] = time.time()
                bucket.save(update_fields=["hits"])
        self.ticket = None

    def pause(self, seconds: float) -> None:
        with transaction.atomic():
            bucket = self._locked_bucket()
            bucket.paused_until = max(bucket.paused_until, time.time() + seconds)
            bucket.save(update_fields=["paused_until"])

    def window_count(self) -> int:
        hits = RateLimitBucket.objects.filter(key=self.key).values_list("hits", flat=True).first()
        start = time.time() - self.interval
        return sum(1 for t in hits or [] if t > start)


# KEYS: window zset, day counter, pause; ARGV: limit, interval ms, daily, member, and the member
# of a request answered meanwhile to settle first ('' for none: see `settles_deferred`).
# Returns milliseconds to wait (0 = granted), or -1 when the daily quota is used up.
_ACQUIRE = RedisScript("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, interval, daily = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if ARGV[5] and ARGV[5] ~= '' and redis.call('ZADD', KEYS[1], 'XX', 'CH', now, ARGV[5]) == 1 then
  redis.call('PEXPIRE', KEYS[1], interval + 1000)
end
local pause = tonumber(redis.call('GET', KEYS[3]) or '0')
if pause > now then return pause - now end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - interval)
if tonumber(redis.call('GET', KEYS[2]) or '0') >= daily then return -1 end
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + interval - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], interval + 1000)
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 90000)
return 0
""")
_COUNT = RedisScript("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
""")
# KEYS: window zset; ARGV: member, interval ms. Re-scores a counted request to the server's now.
_SETTLE = RedisScript("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now, ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000)
end
return 0
""")
_PAUSE = RedisScript("""
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') < until_ms then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000)
end
return 0
""")


@cache
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url)


def _run(script: RedisScript, keys: list[str], *args: object) -> int:
    """The script on a connection of the process's pool (portal/redis_script.py)."""
    return int(script(_redis(settings.REDIS_URL).connection_pool, keys=keys, args=args))


# Inside `settles_deferred`: limiter key → (the limiter, the member of its answered request).
_deferred: ContextVar[dict[str, tuple["RedisLimiter", str]] | None] = ContextVar(
    "deferred_settles", default=None
)


@contextmanager
def settles_deferred() -> Iterator[None]:
    """Within the block, a Redis limiter's settle rides on the next acquire of its key, one
    round trip per call instead of two (a push worker's calls to one remote follow each other);
    settles still waiting when the block ends are sent then. A settle sent later only counts
    the request from a later moment: longer, never shorter than the remote counts it."""
    token = _deferred.set({})
    try:
        yield
    finally:
        waiting = _deferred.get() or {}
        _deferred.reset(token)
        for limiter, member in waiting.values():
            limiter.settle_now(member)


class RedisLimiter(Limiter):
    def _keys(self) -> list[str]:
        day = _utc_day(time.time())
        prefix = f"portal:ratelimit:{self.key}"
        return [f"{prefix}:window", f"{prefix}:day:{day}", f"{prefix}:pause"]

    def try_acquire(self) -> float:
        member, answered = uuid.uuid4().hex, ""
        deferred = _deferred.get()
        if deferred and self.key in deferred:
            answered = deferred.pop(self.key)[1]  # settled by this same script
        result = _run(
            _ACQUIRE, self._keys(), self.limit, self._interval_ms, self.daily, member, answered
        )
        if result < 0:
            return seconds_to_next_utc_day(time.time())
        if result == 0:
            self.ticket = member
        return result / 1000

    def settle(self) -> None:
        member, self.ticket = self.ticket, None
        if member is None:
            return
        deferred = _deferred.get()
        if deferred is None:
            self.settle_now(member)
            return
        earlier = deferred.pop(self.key, None)
        if earlier is not None:  # answered before this one, and no acquire came between
            earlier[0].settle_now(earlier[1])
        deferred[self.key] = (self, member)

    def settle_now(self, member: str) -> None:
        _run(_SETTLE, self._keys()[:1], member, self._interval_ms)

    @property
    def _interval_ms(self) -> int:
        return int(self.interval * 1000)

    def pause(self, seconds: float) -> None:
        _run(_PAUSE, self._keys()[2:], int(seconds * 1000))

    def window_count(self) -> int:
        return _run(_COUNT, self._keys()[:1], self._interval_ms)


def limiter_key(connection: Connection) -> str:
    """The CRM counts per app and location: connections to one location share a limiter."""
    return f"{connection.provider}:{connection.location_id or f'connection-{connection.pk}'}"


def limiter_for(connection: Connection) -> Limiter:
    backend = RedisLimiter if settings.REDIS_URL else DatabaseLimiter
    return backend(
        key=limiter_key(connection),
        limit=connection.rate_limit_requests,
        interval=float(connection.rate_limit_interval_seconds),
        daily=connection.rate_limit_daily,
    )
