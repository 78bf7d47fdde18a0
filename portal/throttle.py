"""Fixed-window request counters in the shared cache (Redis in production): every process on
every machine counts against the same window. Used by the partner API (per key) and the
webhook endpoints (per client address and endpoint).

    parse_rate("600/minute") -> (600, 60)
    hit("api:<key id>", "600/minute") -> 0.0 when allowed, else seconds until the window ends

`incr` is atomic on Redis; on the embedded database cache it is read-then-write, so concurrent
requests may undercount slightly (a limit there is a guard, not an exact quota).
"""

import time

from django.core.cache import cache

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
clock = time.time  # tests pin it, so a window never ends mid-test


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/minute' → (600, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0].lower()]


def hit(name: str, rate: str) -> float:
    """Count one request under `name`; 0.0 if it is within `rate`, else the wait in seconds."""
    limit, window = parse_rate(rate)
    now = clock()
    start = int(now // window) * window
    counter = f"throttle:{name}:{start}"
    try:
        count = cache.incr(counter)  # the common case: the window's counter exists
    except ValueError:
        count = 1 if cache.add(counter, 1, timeout=window + 1) else cache.incr(counter)
    return 0.0 if count <= limit else max(start + window - now, 0.001)
