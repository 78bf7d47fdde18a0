"""``manage.py run_sandbox_crm``: run the sandbox CRM in the foreground.

A thin wrapper over ``sandbox.SandboxCRM``; stops cleanly on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sandbox import DEFAULT_LOCATION_ID, DEFAULT_TOKEN, SandboxCRM


class Command(BaseCommand):
    help = "Run the local sandbox CRM (HighLevel API v2 stand-in) until Ctrl-C / SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--db", default="sandbox_crm.sqlite3", help="SQLite state file")
        parser.add_argument("--token", default=DEFAULT_TOKEN, help="accepted bearer token")
        parser.add_argument("--location-id", default=DEFAULT_LOCATION_ID)
        parser.add_argument(
            "--timezone", default="UTC", help="the location's IANA time zone, e.g. Asia/Kolkata"
        )
        parser.add_argument("--webhook-url", default=None, help="where to POST webhooks")
        parser.add_argument(
            "--public-key-out", default=None, help="write the webhook Ed25519 public key (PEM)"
        )
        parser.add_argument("--rate-limit", type=int, default=100, help="per window; 0 = off")
        parser.add_argument("--daily-limit", type=int, default=200_000, help="0 = off")
        parser.add_argument("--window-ms", type=int, default=10_000)
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--error-rate", type=float, default=0.0, help="0.0 - 1.0")
        parser.add_argument("--seed", type=int, default=None, help="fault-injection seed")
        parser.add_argument("--seed-contacts", type=int, default=0, help="insert N contacts")

    def handle(self, *args: Any, **opts: Any) -> None:
        self._setup_logging(int(opts["verbosity"]))
        crm = SandboxCRM(
            opts["db"],
            port=opts["port"],
            host=opts["host"],
            token=opts["token"],
            location_id=opts["location_id"],
            timezone=opts["timezone"],
            webhook_url=opts["webhook_url"],
            public_key_out=opts["public_key_out"],
            rate_limit=opts["rate_limit"],
            daily_limit=opts["daily_limit"],
            window_ms=opts["window_ms"],
            latency_ms=opts["latency_ms"],
            error_rate=opts["error_rate"],
            seed=opts["seed"],
        )
        if opts["seed_contacts"]:
            crm.seed_contacts(opts["seed_contacts"])
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        # Installed before the "Sandbox CRM on ..." line: whoever reads it may stop us at once.
        previous = signal.signal(signal.SIGTERM, on_signal)
        base_url = crm.start()
        self.stdout.write(f"Sandbox CRM on {base_url} (location {opts['location_id']})")
        if opts["public_key_out"]:
            self.stdout.write(f"Webhook public key written to {opts['public_key_out']}")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            crm.stop()
            self.stdout.write("Sandbox CRM stopped.")

    @staticmethod
    def _setup_logging(verbosity: int) -> None:
        """Show the per-request log lines unless the project configured the logger."""
        logger = logging.getLogger("sandbox_crm")
        if not logger.handlers and not logging.getLogger().handlers:
            logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO if verbosity >= 1 else logging.WARNING)
