"""``SandboxCRM``: the Python API used by tests, benchmarks and the management command."""

from __future__ import annotations

import threading
from dataclasses import fields
from typing import Any

from . import contacts
from .core import DEFAULT_LOCATION_ID, DEFAULT_TOKEN, Core, SandboxConfig
from .server import SandboxHTTPServer


class SandboxCRM:
    """A local stand-in for the HighLevel/LeadConnector API v2.

    Example::

        crm = SandboxCRM("/tmp/crm.sqlite3", webhook_url="http://127.0.0.1:8000/hooks/")
        base_url = crm.start()          # serves in a background thread
        crm.seed_contacts(500)
        ...
        crm.stop()

    Further keyword options are ``SandboxConfig`` fields: ``host``, ``company_id``,
    ``key_path``, ``webhook_retry_delays`` (seconds between 429 retries; default 6 x 600),
    ``webhook_timeout``, ``allow_duplicates``.
    """

    def __init__(
        self,
        db_path: str,
        port: int = 0,
        *,
        token: str = DEFAULT_TOKEN,
        location_id: str = DEFAULT_LOCATION_ID,
        webhook_url: str | None = None,
        public_key_out: str | None = None,
        rate_limit: int = 100,
        daily_limit: int = 200_000,
        window_ms: int = 10_000,
        latency_ms: int = 0,
        error_rate: float = 0.0,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        known = {f.name for f in fields(SandboxConfig)}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown SandboxCRM options: {sorted(unknown)}")
        if "webhook_retry_delays" in options:
            options["webhook_retry_delays"] = tuple(options["webhook_retry_delays"])
        options |= {
            "token": token,
            "location_id": location_id,
            "webhook_url": webhook_url,
            "public_key_out": public_key_out,
            "rate_limit": rate_limit,
            "daily_limit": daily_limit,
            "window_ms": window_ms,
            "latency_ms": latency_ms,
            "error_rate": error_rate,
            "seed": seed,
        }
        self.config = SandboxConfig(db_path=db_path, port=port, **options)
        self.core = Core(self.config)
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> str:
        """Bind (port 0 = any free port), serve in a daemon thread, return the base URL."""
        if self._server is not None:
            return self.base_url
        self._server = SandboxHTTPServer((self.config.host, self.config.port), self.core)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # fast stop() in tests
            name="sandbox-crm-http",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving, stop the webhook worker and close the database."""
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=5)
            self._server.server_close()
            self._server = None
        self.core.close()

    def __enter__(self) -> SandboxCRM:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            return self.config.port
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def public_key_pem(self) -> str:
        return self.core.public_key_pem

    # -- runtime control ------------------------------------------------------------------
    def configure(self, **changes: Any) -> dict[str, Any]:
        """Same as ``POST /_sandbox/config`` (latency_ms, error_rate, rate_limit, ...)."""
        return self.core.configure(**changes)

    def reset(self) -> None:
        self.core.reset()

    def stats(self) -> dict[str, Any]:
        return self.core.snapshot_stats()

    def wait_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook (and pending 429 retry) has been handled."""
        return self.core.sender.wait_idle(timeout)

    # -- direct state access (no HTTP, no rate limit) ------------------------------------
    def seed_contacts(self, n: int, location_id: str | None = None) -> list[dict[str, Any]]:
        """Insert ``n`` fake contacts quickly (one transaction, no webhooks)."""
        location = location_id or self.config.location_id
        start = self.core.store.counts().get(contacts.KIND, 0)
        with self.core.write_lock:
            return contacts.seed(self.core, location, n, start=start)

    def create_contact(self, **fields_: Any) -> dict[str, Any]:
        """Create a contact as if a CRM user did it (fires ContactCreate)."""
        fields_.setdefault("locationId", self.config.location_id)
        with self.core.write_lock:
            return contacts.create(self.core, fields_)

    def update_contact(self, contact_id: str, **changes: Any) -> dict[str, Any]:
        """Change a contact as if a CRM user did it (fires ContactUpdate, ...)."""
        with self.core.write_lock:
            return contacts.update(self.core, contact_id, changes)

    def delete_contact(self, contact_id: str) -> None:
        with self.core.write_lock:
            contacts.delete(self.core, contact_id)

    def get_contact(self, contact_id: str) -> dict[str, Any] | None:
        return self.core.store.get(contacts.KIND, contact_id)

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        """Any record by kind: contact, task, note, appointment, user, courseImport, ..."""
        return self.core.store.get(kind, record_id)

    def list(self, kind: str = "contact", location_id: str | None = None) -> list[dict[str, Any]]:
        """All records of ``kind`` (optionally of one location), oldest first."""
        return self.core.store.all(kind, location_id)
