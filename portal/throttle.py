"""Fixed-window request counters in the shared cache (Redis in production): every process on
every machine counts against the same window. Used by the partner API (per key) and the
webhook endpoints (per client address and endpoint).

    parse_rate("600/minute") -> (600, 60)
    count("api:<key id>", "600/minute") -> Window(limit, count, reset): for RateLimit-* headers
    hit("<name>", "100/second") -> 0.0 when allowed, else seconds until the window ends
    hit_in_batches("webhook:<address>", "100/second") -> the same, the shared counter told in
                                       batches (below)

On Redis a request costs one round trip: a script increments the window's counter and sets
its expiry when it creates it, atomically (the cache API's `incr` would be two: EXISTS, then
INCRBY). On the embedded database cache it is the cache's incr/add, a read-then-write, so
concurrent requests may undercount slightly (a limit there is a guard, not an exact quota).

`hit_in_batches` spares most requests that round trip (the webhook intake's, where it was a
tenth of a delivery's CPU with Redis's own): each process counts its requests itself and adds
them to the shared counter a batch at a time (a tenth of the limit, at most BATCH_MAX),
learning the shared count each time. A process refuses once it knows the window's count is
past the limit, without asking again until the window ends. The price: all processes together
may admit up to one batch each more than the limit in a window (10 % of it per process), and a
process's last, untold batch of a window is not counted elsewhere. A limit of fewer than 20
requests is counted exactly, one round trip per request.
"""

import logging
import math
import threading
import time
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

from portal.redis_script import RedisScript

logger = logging.getLogger(__name__)
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
clock = time.time  # tests pin it, so a window never ends mid-test
BATCH_SHARE = 10  # a batch is at most this fraction of the limit…
BATCH_MAX = 100  # …and at most this many requests


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
    start, reset = _window(period)
    seen = _add(name, start, period, 1)
    return Window(limit, seen or 0, reset)


def hit(name: str, rate: str) -> float:
    """Count one request under `name`; 0.0 if it is within `rate`, else the wait in seconds."""
    window = count(name, rate)
    return window.reset if window.exceeded else 0.0


@dataclass
class _Local:
    """One name's window as this process sees it."""

    start: int
    shared: int = 0  # the shared count when last told (this process's told requests in it)
    pending: int = 0  # requests admitted here since, not told yet


_local: dict[str, _Local] = {}
_local_lock = threading.Lock()


def hit_in_batches(name: str, rate: str) -> float:
    """hit(), with this process's requests added to the shared counter a batch at a time."""
    limit, period = parse_rate(rate)
    batch = min(limit // BATCH_SHARE, BATCH_MAX)
    if batch <= 1:
        return hit(name, rate)
    start, reset = _window(period)
    with _local_lock:
        state = _local_state(name, start)
        if state.shared + state.pending >= limit:
            return reset  # past the limit as far as anyone here knows: refused, nothing sent
        state.pending += 1
        if state.pending < batch:
            return 0.0
        told, state.pending = state.pending, 0
    seen = _add(name, start, period, told)
    if seen is None:
        return 0.0
    with _local_lock:
        state.shared = max(state.shared, seen)
    return reset if seen > limit else 0.0


def forget_local_counts() -> None:
    """Drop what this process counted (tests: the shared cache is emptied between them)."""
    with _local_lock:
        _local.clear()


def _local_state(name: str, start: int) -> _Local:
    state = _local.get(name)
    if state is None or state.start != start:
        if len(_local) > 10_000:  # many addresses: forget the windows that ended
            for stale in [key for key, value in _local.items() if value.start != start]:
                del _local[stale]
        state = _local[name] = _Local(start)
    return state


def _window(period: int) -> tuple[int, float]:
    """The current window's start, and the seconds until it ends."""
    now = clock()
    start = int(now // period) * period
    return start, max(start + period - now, 0.001)


def _add(name: str, start: int, period: int, requests: int) -> int | None:
    """Add `requests` to the window's shared counter; its count with them (None: no cache)."""
    try:
        return _increment(f"throttle:{name}:{start}", period + 1, requests)
    except Exception:
        # The shared cache is down: a limit guards the portal, it is no reason to refuse (a
        # webhook refused with a 5xx is never sent again).
        logger.warning("Rate-limit counter %s unavailable; request allowed.", name, exc_info=True)
        return None


# KEYS: the window's counter; ARGV: its lifetime in seconds, the requests to add. Returns the
# count with them.
_INCREMENT = RedisScript("""
local seen = redis.call('INCRBY', KEYS[1], ARGV[2])
if seen == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return seen
""")


def _increment(counter: str, lifetime: int, requests: int = 1) -> int:
    """Add `requests` to `counter` (created with `lifetime`); the count including them."""
    backend = caches[DEFAULT_CACHE_ALIAS]  # `cache` is a proxy to it
    if isinstance(backend, RedisCache):
        key = backend.make_and_validate_key(counter)
        # An int is stored as a plain Redis integer, the way the cache itself stores one, so
        # cache.get(counter) reads the same count.
        return int(_INCREMENT(_redis_pool(backend), keys=[key], args=[lifetime, requests]))
    try:
        return cache.incr(counter, requests)  # the common case: the window's counter exists
    except ValueError:
        if cache.add(counter, requests, timeout=lifetime):
            return requests
        return cache.incr(counter, requests)


def _redis_pool(backend: RedisCache):
    """The connection pool of the cache's own client, found once per cache object (the cache
    makes a new client, ~170 response callbacks set up, for every operation)."""
    pool = getattr(backend, "_throttle_pool", None)
    if pool is None:
        pool = backend._cache.get_client(None, write=True).connection_pool
        backend._throttle_pool = pool
    return pool
