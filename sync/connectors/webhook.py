"""Outbound webhooks: one connection = one partner endpoint subscribed to some event types.

    options: {"event_types": ["contact.created", "contact.updated", …]}   (default: all)
    credentials: {"secrets": [{"secret": "whsec_…", "expires_at": null | ISO time}, …]}

Each change is POSTed to the connection's URL as {"type", "timestamp", "data"} (data: the
partner API representation, sync/mapping/representation.py), signed per Standard Webhooks with every
live secret (several signatures while a rotation overlaps). `webhook-id` is stable across
retries and replays of one outbox row, so receivers can drop duplicates. Retries follow
RETRY_SCHEDULE (the push engine reads it); an endpoint failing for WEBHOOK_DISABLE_AFTER_DAYS
is deactivated and the admins are mailed. Replay dead rows from the outbox admin.
"""

import json
import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.utils import timezone

from sync.connectors.base import TestResult
from sync.connectors.partner import PartnerConnector
from sync.connectors.webhook_secrets import UNSIGNABLE, first_secret, live_secrets
from sync.mapping.representation import represent
from sync.models import DeliveryAttempt, Direction, OutboundChange
from sync.objects import ObjectType, object_type_of
from sync.transport.http import RemoteError, Response
from sync.transport.standard_webhooks import signed_headers

logger = logging.getLogger(__name__)
RETRY_SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
VERBS = ("created", "updated", "deleted")
EVENT_TYPES = [f"{t}.{verb}" for t in ObjectType.values for verb in VERBS]


class Webhooks(PartnerConnector):
    provider = "webhook"
    retry_schedule = RETRY_SCHEDULE
    url_option = "--url"

    @classmethod
    def add_command_arguments(cls, parser: Any) -> None:
        super().add_command_arguments(parser)
        parser.add_argument("--events", default="", help="comma-separated; default: all")

    @classmethod
    def fields_from_command(cls, options: dict[str, Any]) -> dict[str, Any]:
        events = [e.strip() for e in options["events"].split(",") if e.strip()] or EVENT_TYPES
        unknown = sorted(set(events) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"Unknown event type(s): {', '.join(unknown)}.")
        directions = {
            f"{t}s_direction": Direction.OUT
            if any(e.startswith(f"{t}.") for e in events)
            else Direction.OFF
            for t in ObjectType.values
        }
        return {
            "credentials": first_secret(),
            "options": {"event_types": events},
            **directions,
        }

    @classmethod
    def after_command_create(cls, connection, options: dict[str, Any]) -> str:
        secret = connection.credentials["secrets"][0]["secret"]
        return f"Signing secret (shown once, give it to the partner): {secret}"

    @classmethod
    def catalog_actions(cls) -> list[dict[str, Any]]:
        from sync.catalog import mirror_fields, operation

        return [
            operation("action", f"deliver {e}", f"{e.split('.')[0]}s.readonly", fields)
            for e in EVENT_TYPES
            for fields in [mirror_fields(e.split(".")[0])]
        ]

    def test(self) -> TestResult:
        """A signed `portal.test` message, so the partner can check its verification."""
        try:
            self.deliver("portal.test", {"message": "test"}, f"msg_test_{time.time_ns()}")
        except RemoteError as exc:
            return TestResult(False, exc.message)
        return TestResult(True, "A signed test message was accepted.")

    def push(self, change: OutboundChange) -> str:
        obj = change.mirror_object()
        event = f"{object_type_of(obj)}.{event_verb(change, obj)}"
        if event not in self.subscribed:
            return f"{event}: not subscribed"
        self.deliver(event, represent(obj), f"msg_{change.pk}", change.created_at)
        return f"{event}: delivered"

    @property
    def subscribed(self) -> list[str]:
        return self.connection.options.get("event_types") or EVENT_TYPES

    def deliver(self, event: str, data: dict[str, Any], msg_id: str, at=None) -> Response:
        moment = (at or timezone.now()).isoformat()
        body = json.dumps({"type": event, "timestamp": moment, "data": data}, default=str)
        secrets = live_secrets(self.connection)
        if not secrets:  # unsigned would be refused by the partner, retrying would not help
            raise RemoteError(UNSIGNABLE, permanent=True)
        headers = signed_headers(secrets, msg_id, int(time.time()), body)
        headers["Content-Type"] = "application/json"
        return self.call("POST", "", data=body.encode(), headers=headers)

    def call(self, method: str, path: str, **kwargs: Any) -> Response:
        try:
            return super().call(method, path, **kwargs)
        except RemoteError:
            disable_if_failing_too_long(self.connection)
            raise


def event_verb(change: OutboundChange, obj) -> str:
    if obj.is_deleted:
        return "deleted"
    if change.audit_action == "create":
        return "created"
    coalesced = OutboundChange.objects.filter(coalesced_into=change, audit_action="create")
    return "created" if coalesced.exists() else "updated"


def failing_since(connection):
    """When the current run of failures began (None if the last call succeeded)."""
    attempts = DeliveryAttempt.objects.filter(connection=connection)
    if connection.last_success_at:
        attempts = attempts.filter(created_at__gt=connection.last_success_at)
    first = attempts.exclude(outcome=DeliveryAttempt.Outcome.OK).order_by("created_at").first()
    return first.created_at if first else None


def disable_if_failing_too_long(connection) -> bool:
    since = failing_since(connection)
    limit = timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS)
    if since is None or timezone.now() - since < limit:
        return False
    # Conditional: of several workers seeing the same failure, one disables and one mails.
    disabled = type(connection).objects.filter(pk=connection.pk, active=True).update(active=False)
    if disabled:
        logger.error(
            "ALERT: webhook connection %s disabled after failing since %s", connection.pk, since
        )
        mail_admins(
            f"Webhook endpoint {connection.name} disabled",
            f"{connection.base_url} has been failing since {since:%Y-%m-%d %H:%M} UTC. "
            "Fix it, re-activate the connection and replay its failed outbox rows.",
            fail_silently=True,  # the log line above is the alert of record if mail is down
        )
    return bool(disabled)
