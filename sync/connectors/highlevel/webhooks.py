"""The CRM's webhook endpoint, POST /webhooks/highlevel/ (one URL for every location).

The CRM signs the raw body (signatures.py); the body names its location (locationId, or
companyId for user events: events.py), which routes the delivery to the workspace's CRM
connection; `timestamp` must be within WEBHOOK_TOLERANCE_SECONDS. The neutral intake
(sync/inbound/) reaches these hooks through the connector registry.
"""

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from sync.connectors.highlevel import events, signatures
from sync.connectors.receiving import Delivery, ProviderWebhooks
from sync.inbound.events import ParsedEvent, clean_text
from sync.models import Connection
from sync.transport.webhook_checks import check_timestamp, parse_timestamp

PROVIDER = "highlevel"


class HighLevelWebhooks(ProviderWebhooks):
    view_name = "High Level Webhook"
    event_types = frozenset(events.EVENTS)

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> str:
        return signatures.verify(raw, headers)

    def read(self, raw_text: str, payload: dict[str, Any]) -> Delivery:
        timestamp = parse_timestamp(payload.get("timestamp"))
        check_timestamp(timestamp)
        event_type = clean_text(payload.get("type"), 64)
        return Delivery(
            event_type=event_type,
            # Without a webhookId, identical bodies are the same delivery.
            webhook_id=clean_text(payload.get("webhookId"), 128) or _digest(raw_text),
            routing_key=events.routing_key(payload),
            timestamp=timestamp,
            known=events.event_spec(event_type) is not None,
        )

    def candidates(self, routing_key: str, event_type: str) -> QuerySet:
        """The live, active CRM connections the key names, the workspace's primary one first."""
        crm = Connection.objects.live().filter(provider=PROVIDER, active=True)
        if self.route_scope(event_type) == "companyId":
            crm = crm.filter(company_id=routing_key)
        else:
            crm = crm.filter(workspace__location_id=routing_key)
        return crm.order_by("-primary", "id")

    def route_scope(self, event_type: str) -> str:
        spec = events.event_spec(event_type)
        return spec.routing_field if spec else "locationId"

    def parse(self, payload: dict[str, Any], delivered_at: datetime | None) -> ParsedEvent:
        return events.parse(payload, delivered_at)


def _digest(raw_text: str) -> str:
    return "sha256:" + hashlib.sha256(raw_text.encode()).hexdigest()
