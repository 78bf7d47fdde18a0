"""Outgoing CRM-style webhooks: Ed25519 signing and a background delivery queue.

Like the real CRM: the body is signed with Ed25519 over the raw bytes (base64 in
``x-ghl-signature``); a delivery is retried only when the receiver answers 429, any other
failure is final (dropped and logged). Sending happens on a worker thread so API responses
are never delayed by a slow receiver.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .util import now_iso

log = logging.getLogger("sandbox_crm")

# The CRM retries a 429'd delivery about 6 times, ~10 minutes apart.
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (600.0,) * 6

# Ignore *_proxy environment variables: the receiver is normally a portal on the same host.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def load_or_create_key(path: str) -> Ed25519PrivateKey:
    """Load the PEM private key at ``path``, generating (0600) it on first start."""
    if os.path.exists(path):
        with open(path, "rb") as fh:
            key = serialization.load_pem_private_key(fh.read(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(key: Ed25519PrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body)).decode()


@dataclass
class _Delivery:
    event_type: str
    url: str
    body: bytes
    signature: str
    attempt: int = 0


class WebhookSender:
    """Queue + single worker thread; 429 answers are re-queued after the next retry delay."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        url_getter: Callable[[], str | None],
        on_result: Callable[[str], None],
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        timeout: float = 10.0,
    ) -> None:
        self._key = key
        self._url_getter = url_getter
        self._on_result = on_result  # called with "sent" / "failed" / "retried"
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._heap: list[tuple[float, int, _Delivery]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sandbox-crm-webhooks", daemon=True)
        self._thread.start()

    def emit(self, event_type: str, payload: dict[str, Any]) -> None:
        """Queue one event; a no-op when no webhook URL is configured."""
        url = self._url_getter()
        if not url:
            return
        event = {"type": event_type, **payload, "webhookId": str(uuid.uuid4())}
        event["timestamp"] = now_iso()
        body = json.dumps(event, separators=(",", ":")).encode()
        self._push(time.monotonic(), _Delivery(event_type, url, body, sign(self._key, body)))

    def _push(self, due: float, delivery: _Delivery) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), delivery))
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._busy

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until no delivery is queued or in flight (retries included)."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _next(self) -> _Delivery | None:
        with self._cond:
            while not self._stopping:
                if self._heap and self._heap[0][0] <= time.monotonic():
                    self._busy += 1
                    return heapq.heappop(self._heap)[2]
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                self._cond.wait(timeout=wait)
            return None

    def _run(self) -> None:
        while (delivery := self._next()) is not None:
            try:
                self._deliver(delivery)
            except Exception:  # never let one bad delivery kill the worker
                log.exception("webhook %s delivery crashed", delivery.event_type)
                self._on_result("failed")
            finally:
                with self._cond:
                    self._busy -= 1

    def _deliver(self, d: _Delivery) -> None:
        status = self._post(d)
        if 200 <= status < 300:
            self._on_result("sent")
            return
        if status == 429 and d.attempt < len(self.retry_delays):
            delay = self.retry_delays[d.attempt]
            d.attempt += 1
            self._on_result("retried")
            log.info("webhook %s got 429; retry %d in %.1fs", d.event_type, d.attempt, delay)
            self._push(time.monotonic() + delay, d)
            return
        self._on_result("failed")
        log.warning("webhook %s to %s dropped (status %s)", d.event_type, d.url, status)

    def _post(self, d: _Delivery) -> int:
        """POST the signed body; returns the HTTP status (0 on connection errors)."""
        if not d.url.startswith(("http://", "https://")):
            return 0
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            d.url,
            data=d.body,
            method="POST",
            headers={"Content-Type": "application/json", "x-ghl-signature": d.signature},
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as resp:
                resp.read()
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (OSError, ValueError) as exc:
            log.warning("webhook %s to %s failed: %s", d.event_type, d.url, exc)
            return 0
