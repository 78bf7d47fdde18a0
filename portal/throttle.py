"""Fixed-window request counters in the shared cache (Redis in production): every process on
every machine counts against the same window. Used by the partner API (per key) and the
webhook endpoints (per client address and endpoint).

    parse_rate("600/minute") -> (600, 60)
    count("api:<key id>", "600/minute") -> Window(limit, count, reset): for RateLimit-* headers
    hit("webhook:<address>", "100/second") -> 0.0 when allowed, else seconds until the window ends

On Redis a request costs one round trip: a script increments the window's counter and sets
its expiry when it creates it, atomically (the cache API's `incr` would be two: EXISTS, then
INCRBY). On the embedded database cache it is the cache's incr/add, a read-then-write, so
concurrent requests may undercount slightly (a limit there is a guard, not an exact quota).
"""

import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

from portal.redis_script import RedisScript

logger = logging.getLogger(__name__)
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
clock = time.time  # tests pin it, so a window never ends mid-test


@dataclass(frozen=True)
class Window:
    """Where a caller stands in its current window."""

    limit: int
    count: int
    reset: float  # seconds until the window ends

    @property
    def remaining(self) -> int:
        return max(self.limit - self.count, 0)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    def headers(self) -> dict[str, str]:
        """The RateLimit-* response headers (IETF draft names) for this window."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(max(1, math.ceil(self.reset))),
        }


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/minute' → (600, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0].lower()]


def count(name: str, rate: str) -> Window:
    """Count one request under `name` in the current window of `rate`."""
    limit, period = parse_rate(rate)
    now = clock()
    start = int(now // period) * period
    counter = f"throttle:{name}:{start}"
    reset = max(start + period - now, 0.001)
    try:
        seen = _increment(counter, period + 1)
    except Exception:
        # The shared cache is down: a limit guards the portal, it is no reason to refuse (a
        # webhook refused with a 5xx is never sent again).
        logger.warning("Rate-limit counter %s unavailable; request allowed.", name, exc_info=True)
        return Window(limit, 0, reset)
    return Window(limit, seen, reset)


def hit(name: str, rate: str) -> float:
    """Count one request under `name`; 0.0 if it is within `rate`, else the wait in seconds."""
    window = count(name, rate)
    return window.reset if window.exceeded else 0.0


# KEYS: the window's counter; ARGV: its lifetime in seconds. Returns the count with this request.
_INCREMENT = RedisScript("""
local seen = redis.call('INCR', KEYS[1])
if seen == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return seen
""")


def _increment(counter: str, lifetime: int) -> int:
    """Count one request in `counter` (created with `lifetime`); the count including it."""
    backend = caches[DEFAULT_CACHE_ALIAS]  # `cache` is a proxy to it
    if isinstance(backend, RedisCache):
        key = backend.make_and_validate_key(counter)
        # An int is stored as a plain Redis integer, the way the cache itself stores one, so
        # cache.get(counter) reads the same count.
        return int(_INCREMENT(_redis_pool(backend), keys=[key], args=[lifetime]))
    try:
        return cache.incr(counter)  # the common case: the window's counter exists
    except ValueError:
        return 1 if cache.add(counter, 1, timeout=lifetime) else cache.incr(counter)


def _redis_pool(backend: RedisCache):
    """The connection pool of the cache's own client, found once per cache object (the cache
    makes a new client, ~170 response callbacks set up, for every operation)."""
    pool = getattr(backend, "_throttle_pool", None)
    if pool is None:
        pool = backend._cache.get_client(None, write=True).connection_pool
        backend._throttle_pool = pool
    return pool
