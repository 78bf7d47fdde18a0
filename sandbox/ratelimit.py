"""Per (token, location) rate limiting with the CRM's burst + daily limits and headers.

The CRM counts per app and location: by default 100 requests per 10 s (sliding window) and
200,000 per day. A limit of 0 means "lifted" (never 429). The window length is
configurable so tests can use tiny windows instead of sleeping 10 s.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

# Reported in the headers when a limit is lifted: clients that throttle on
# X-RateLimit-Remaining must never see 0 then.
UNLIMITED_REPORTED = 1_000_000_000
DAY_SECONDS = 86_400


@dataclass
class _Bucket:
    hits: deque[float] = field(default_factory=deque)
    day: int = -1
    day_count: int = 0


@dataclass
class Decision:
    allowed: bool
    headers: dict[str, str]
    retry_after: int = 0


class RateLimiter:
    """Sliding-window + daily counter keyed by a token digest and a location id."""

    def __init__(self, burst: int = 100, daily: int = 200_000, window_ms: int = 10_000) -> None:
        self.burst = burst
        self.daily = daily
        self.window_ms = window_ms
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def configure(
        self, burst: int | None = None, daily: int | None = None, window_ms: int | None = None
    ) -> None:
        with self._lock:
            if burst is not None:
                self.burst = int(burst)
            if daily is not None:
                self.daily = int(daily)
            if window_ms is not None:
                self.window_ms = max(1, int(window_ms))

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    @staticmethod
    def key(token: str, location_id: str) -> tuple[str, str]:
        # Keep only a digest of the token in memory: nothing here should ever leak it.
        return hashlib.sha256(token.encode()).hexdigest()[:16], location_id

    def hit(self, key: tuple[str, str], now: float | None = None) -> Decision:
        """Count one request (if allowed) and return the decision with its headers."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._bucket(key, now)
            retry = self._retry_after(bucket, now)
            if retry == 0:
                bucket.hits.append(now)
                bucket.day_count += 1
            return Decision(retry == 0, self._headers(bucket), retry)

    def peek(self, key: tuple[str, str], now: float | None = None) -> dict[str, str]:
        """Headers for a response that is not counted (e.g. a 401)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return self._headers(self._bucket(key, now))

    def _bucket(self, key: tuple[str, str], now: float) -> _Bucket:
        bucket = self._buckets.setdefault(key, _Bucket())
        window = self.window_ms / 1000
        while bucket.hits and bucket.hits[0] <= now - window:
            bucket.hits.popleft()
        day = int(time.time() // DAY_SECONDS)  # the daily quota resets at 00:00 UTC
        if bucket.day != day:
            bucket.day, bucket.day_count = day, 0
        return bucket

    def _retry_after(self, bucket: _Bucket, now: float) -> int:
        """Whole seconds (rounded up, >= 1) until a request would pass; 0 if it passes now."""
        if self.daily > 0 and bucket.day_count >= self.daily:
            return max(1, math.ceil(DAY_SECONDS - time.time() % DAY_SECONDS))
        if self.burst > 0 and len(bucket.hits) >= self.burst:
            oldest = bucket.hits[len(bucket.hits) - self.burst]
            return max(1, math.ceil(oldest + self.window_ms / 1000 - now))
        return 0

    def _headers(self, bucket: _Bucket) -> dict[str, str]:
        burst = self.burst if self.burst > 0 else UNLIMITED_REPORTED
        daily = self.daily if self.daily > 0 else UNLIMITED_REPORTED
        return {
            "X-RateLimit-Limit-Daily": str(daily),
            "X-RateLimit-Daily-Remaining": str(max(0, daily - bucket.day_count)),
            "X-RateLimit-Interval-Milliseconds": str(self.window_ms),
            "X-RateLimit-Max": str(burst),
            "X-RateLimit-Remaining": str(max(0, burst - len(bucket.hits))),
        }
