"""The sandbox runtime shared by the HTTP server, the HTML page and the Python API.

``Core`` bundles configuration, state (``Store``), rate limiting, fault injection, webhook
delivery and counters, so every way of changing data (API, page, Python helpers) goes
through the same code and fires the same webhooks.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .ratelimit import RateLimiter
from .store import Store
from .util import Clock
from .webhooks import DEFAULT_RETRY_DELAYS, WebhookSender, load_or_create_key, public_key_pem

DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - public demo token of a local fake
DEFAULT_LOCATION_ID = "SbxLocation000000001"
DEFAULT_COMPANY_ID = "SbxCompany0000000001"


@dataclass
class SandboxConfig:
    """Start-up options. The ``RUNTIME`` subset can also be changed while running."""

    db_path: str
    host: str = "127.0.0.1"
    port: int = 0
    token: str = DEFAULT_TOKEN
    location_id: str = DEFAULT_LOCATION_ID
    company_id: str = DEFAULT_COMPANY_ID
    timezone: str = "UTC"  # the location's (IANA name): its offset-less times are in it
    webhook_url: str | None = None
    key_path: str | None = None  # default: next to the SQLite file
    public_key_out: str | None = None
    rate_limit: int = 100  # per window; 0 = lifted
    daily_limit: int = 200_000  # 0 = lifted
    window_ms: int = 10_000
    latency_ms: int = 0
    error_rate: float = 0.0
    throttle_rate: float = 0.0  # share of requests answered 429 at random (Retry-After: 1)
    timeout_rate: float = 0.0  # share of requests held `timeout_ms` before being handled
    timeout_ms: int = 35_000
    seed: int | None = None
    webhook_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    webhook_timeout: float = 10.0
    allow_duplicates: bool = False  # the CRM's "Allow Duplicate Contact" location setting

    RUNTIME = (
        "latency_ms",
        "error_rate",
        "throttle_rate",
        "timeout_rate",
        "timeout_ms",
        "rate_limit",
        "daily_limit",
        "window_ms",
        "webhook_url",
        "seed",
        "allow_duplicates",
        "timezone",
    )


def _zone_name(value: Any) -> str:
    try:
        ZoneInfo(str(value))
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return str(value)


def _key_path(cfg: SandboxConfig) -> str:
    if cfg.key_path:
        return cfg.key_path
    return os.path.splitext(os.path.abspath(cfg.db_path))[0] + "-webhook-ed25519.pem"


@dataclass
class Stats:
    """Thread-safe counters reported by ``GET /_sandbox/stats``."""

    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inc(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)


class Core:
    """Everything a request handler needs; one instance per running sandbox."""

    RATES = ("error_rate", "throttle_rate", "timeout_rate")

    def __init__(self, cfg: SandboxConfig) -> None:
        _zone_name(cfg.timezone)
        self.cfg = cfg
        self.store = Store(cfg.db_path)
        self.clock = Clock()
        self.stats = Stats()
        self.limiter = RateLimiter(cfg.rate_limit, cfg.daily_limit, cfg.window_ms)
        # Serializes read-modify-write changes (API writes, page edits, Python helpers) so
        # concurrent updates of one record cannot lose each other's fields.
        self.write_lock = threading.RLock()
        self.rng = random.Random(cfg.seed)
        self._rng_lock = threading.Lock()
        self.key = load_or_create_key(_key_path(cfg))
        self.public_key_pem = public_key_pem(self.key)
        if cfg.public_key_out:
            with open(cfg.public_key_out, "w", encoding="utf-8") as fh:
                fh.write(self.public_key_pem)
        self.sender = WebhookSender(
            self.key,
            url_getter=lambda: self.cfg.webhook_url,
            on_result=lambda outcome: self.stats.inc(f"webhooks_{outcome}"),
            retry_delays=cfg.webhook_retry_delays,
            timeout=cfg.webhook_timeout,
        )

    # -- events ---------------------------------------------------------------------------
    def emit(self, event_type: str, payload: dict[str, Any]) -> None:
        """Fire a CRM webhook for a change (queued; never blocks the caller)."""
        self.stats.inc("webhooks_queued" if self.cfg.webhook_url else "webhooks_disabled")
        self.sender.emit(event_type, payload)

    # -- fault injection ------------------------------------------------------------------
    def draw_fault(self) -> int | None:
        """Return a status to inject for this request (5xx, or 429), or ``None``."""
        error_rate, throttle_rate = self.cfg.error_rate, self.cfg.throttle_rate
        if error_rate <= 0 and throttle_rate <= 0:
            return None
        with self._rng_lock:
            draw = self.rng.random()
            if draw < error_rate:
                return self.rng.choice((500, 502, 503))
            if draw < error_rate + throttle_rate:
                return 429
            return None

    def draw_timeout(self) -> float:
        """Seconds to hold this request before handling it (a client timeout), usually 0.

        The request is still carried out afterwards, as a slow real server would: the
        client cannot know whether its write happened.
        """
        if self.cfg.timeout_rate <= 0:
            return 0.0
        with self._rng_lock:
            hit = self.rng.random() < self.cfg.timeout_rate
        return self.cfg.timeout_ms / 1000 if hit else 0.0

    # -- runtime configuration ------------------------------------------------------------
    def configure(self, **changes: Any) -> dict[str, Any]:
        """Apply runtime changes (validated); returns the resulting runtime config."""
        unknown = set(changes) - set(SandboxConfig.RUNTIME)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        casts = {
            "latency_ms": int,
            "rate_limit": int,
            "daily_limit": int,
            "window_ms": int,
            "error_rate": float,
            "throttle_rate": float,
            "timeout_rate": float,
            "timeout_ms": int,
            "allow_duplicates": bool,
        }
        for name, value in changes.items():
            if name in casts and value is not None:
                value = casts[name](value)
                if name in self.RATES and not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1")
                if name not in self.RATES and value < 0:
                    raise ValueError(f"{name} must be >= 0")
            if name == "timezone":
                value = _zone_name(value)
            if name == "webhook_url":
                value = value or None  # "" disables sending, like None
            setattr(self.cfg, name, value)
        if "seed" in changes:
            with self._rng_lock:
                self.rng.seed(changes["seed"])
        self.limiter.configure(self.cfg.rate_limit, self.cfg.daily_limit, self.cfg.window_ms)
        return self.runtime_config()

    def runtime_config(self) -> dict[str, Any]:
        return {name: getattr(self.cfg, name) for name in SandboxConfig.RUNTIME}

    def snapshot_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = {
            "requests": 0,
            "rate_limited": 0,
            "errors_injected": 0,
            "webhooks_sent": 0,
            "webhooks_failed": 0,
            "webhooks_retried": 0,
        }
        stats.update(self.stats.snapshot())
        stats["webhooks_pending"] = self.sender.pending()
        stats["objects"] = self.store.counts()
        return stats

    def reset(self) -> None:
        """Wipe all data and counters (the signing key and configuration are kept)."""
        self.sender.clear()
        self.store.wipe()
        self.stats.reset()
        self.limiter.reset()

    def close(self) -> None:
        self.sender.stop()
        self.store.close()
