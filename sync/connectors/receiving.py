"""What a connector declares to receive webhooks at its provider's own URL.

A remote that sends every connection's deliveries to one address (the CRM: one app, many
locations) gets `POST /webhooks/<provider>/`; its connector class sets `webhooks` to an
instance of a `ProviderWebhooks` subclass:

    verify(raw, headers) -> str          the signature scheme that verified the raw body
                                         (SignatureError otherwise; before any parsing)
    read(raw_text, payload) -> Delivery  event type, delivery id, routing key and time
                                         (SignatureError for a time out of tolerance)
    candidates(routing_key, event_type)  the live connections a routing key names, best first
    route_scope(event_type) -> str       which kind of key it is (answers are cached per scope)
    parse(payload, delivered_at)         the delivery as one neutral ParsedEvent
    event_types                          the event types it knows (the admin's filter)

The intake, routing cache and processing (sync/inbound/) are provider-neutral and reach these
hooks through the connector registry (sync/connectors/__init__.py: webhook_receiver).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from django.db.models import QuerySet

from sync.inbound.events import ParsedEvent


@dataclass(frozen=True)
class Delivery:
    event_type: str
    webhook_id: str
    routing_key: str
    timestamp: datetime
    known: bool  # an event type the connector handles (others are stored as ignored)


class ProviderWebhooks:
    view_name: ClassVar[str] = "Webhook"  # what OPTIONS answers as the endpoint's name
    event_types: ClassVar[frozenset[str]] = frozenset()

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> str:
        raise TypeError(f"{type(self).__name__} must define verify()")

    def read(self, raw_text: str, payload: dict[str, Any]) -> Delivery:
        raise TypeError(f"{type(self).__name__} must define read()")

    def candidates(self, routing_key: str, event_type: str) -> QuerySet:
        raise TypeError(f"{type(self).__name__} must define candidates()")

    def route_scope(self, event_type: str) -> str:
        return ""

    def parse(self, payload: dict[str, Any], delivered_at: datetime | None) -> ParsedEvent:
        raise TypeError(f"{type(self).__name__} must define parse()")
