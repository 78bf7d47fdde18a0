"""Accepting a verified delivery: route it, store it raw once, wake the workers.

Deduplication is the unique (source_key, routing_key, webhook_id) constraint — per routing key
(a CRM location or company), never across them — so two processes receiving the same delivery
at the same moment store it once: the loser's insert fails and it answers 200 "duplicate" too.

The insert is the request's only database statement (besides the rate-limit counter and the
wake flag in the shared cache): outside a transaction it runs in autocommit, so it is committed
(and durable: synchronous_commit stays on) before the answer, without the BEGIN and COMMIT
round trips of a transaction block around it, nor the SELECT 1 of Django's health check (`_save`).
Nothing is enqueued per event: the processing task is woken (at most one wake waiting,
sync/engine/queue.py) and claims received events in fair batches (sync/inbound/processing.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, transaction

from portal.compiled_insert import CompiledInsert
from sync.connectors import webhook_receiver
from sync.connectors.receiving import Delivery
from sync.inbound.events import EventError, clean_text
from sync.inbound.partner_formats import format_of
from sync.inbound.processing import events_received
from sync.inbound.routing import cached_route
from sync.models import Connection, InboundEvent, InboundSource, InboundStatus

KEPT_HEADERS = ("content-type", "user-agent", "webhook-id", "webhook-timestamp", "x-request-id")


@dataclass
class Receipt:
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping for operators: never signatures, cookies or credentials."""
    return {name: clean_text(headers.get(name), 500) for name in KEPT_HEADERS if name in headers}


def receive_from_provider(
    provider: str,
    raw: str,
    payload: dict[str, Any],
    delivery: Delivery,
    *,
    headers: Mapping[str, str],
    scheme: str,
) -> Receipt:
    """A delivery to a provider's own endpoint, routed by the key its body names."""
    known, key = delivery.known, delivery.routing_key
    routed = cached_route(provider, key, delivery.event_type) if known and key else None
    receiver = webhook_receiver(provider)
    return _store(
        InboundEvent(
            source=provider,
            source_key=provider,
            event_type=delivery.event_type,
            webhook_id=delivery.webhook_id,
            routing_key=key,
            signature_scheme=scheme,
            source_timestamp=delivery.timestamp,
            connection_id=routed.connection_id if routed else None,
            workspace_id=routed.workspace_id if routed else None,
            **_common(raw, headers),
        ),
        known=known,
        parse=lambda: receiver.parse(payload, delivery.timestamp),
    )


def receive_partner(
    connection: Connection,
    raw: str,
    payload: dict[str, Any],
    *,
    headers: Mapping[str, str],
    msg_id: str,
    timestamp: datetime | None,
    scheme: str = "standard-webhooks",
) -> Receipt:
    webhook_format = format_of(connection)  # the partner's own body layout, or our API's
    event_type = webhook_format.event_type(payload)
    return _store(
        InboundEvent(
            source=InboundSource.PARTNER,
            source_key=f"connection:{connection.pk}",
            event_type=event_type,
            webhook_id=clean_text(msg_id, 128),
            routing_key=connection.slug,
            signature_scheme=scheme,
            source_timestamp=timestamp,
            connection_id=connection.pk,
            workspace_id=connection.workspace_id,
            **_common(raw, headers),
        ),
        known=webhook_format.knows(event_type),
        parse=lambda: webhook_format.parse(payload, timestamp),
    )


def _common(raw: str, headers: Mapping[str, str]) -> dict:
    return {"body": raw, "headers": kept_headers(headers)}


def _store(event: InboundEvent, *, known: bool, parse) -> Receipt:
    if not known:
        event.status, event.result = InboundStatus.IGNORED, "unknown event type"
    elif event.connection_id is None:
        event.status, event.result = InboundStatus.UNMATCHED, "no connection for this location"
    else:
        _describe_record(event, parse)
    if not _insert(event):
        return Receipt(200, {"status": "duplicate", "webhook_id": event.webhook_id})
    if event.status != InboundStatus.RECEIVED:
        return Receipt(202, {"status": event.status, "id": event.pk, "reason": event.result})
    transaction.on_commit(events_received)  # at once in autocommit
    return Receipt(200, {"status": "accepted", "id": event.pk})


def _insert(event: InboundEvent) -> bool:
    """Store the event; False if this delivery is already stored (the unique constraint).

    The routing cache may still name a connection deleted a moment ago: its row refuses the
    event (foreign key), which is then kept unmatched for an operator, never dropped."""
    try:
        _save(event)
    except IntegrityError:
        if event.connection_id is None or _already_stored(event):
            return False
        event.connection_id = event.workspace_id = None
        event.status, event.result = InboundStatus.UNMATCHED, "its connection was just deleted"
        _save(event)
    return True


def _save(event: InboundEvent) -> None:
    connection = transaction.get_connection()
    if connection.in_atomic_block:  # a caller's: a savepoint keeps it usable after a refusal
        with transaction.atomic():
            _INSERT.save(event)
        return
    # Autocommit: one statement, committed when it returns. It is the connection's health check
    # too: Django's (CONN_HEALTH_CHECKS) would first send a SELECT 1, a round trip per delivery.
    # A connection the server has dropped fails the INSERT; it is replaced and the INSERT sent
    # once more (had the first been stored after all, the unique constraint refuses the second
    # and the delivery is answered as a duplicate).
    connection.health_check_done = True
    try:
        _INSERT.save(event)
    except (InterfaceError, OperationalError):
        if connection.is_usable():
            raise  # the database refused it, not a lost connection
        connection.close()
        _INSERT.save(event)


def _already_stored(event: InboundEvent) -> bool:
    return InboundEvent.objects.filter(
        source_key=event.source_key, routing_key=event.routing_key, webhook_id=event.webhook_id
    ).exists()


_INSERT = CompiledInsert(InboundEvent)


def _describe_record(event: InboundEvent, parse) -> None:
    """Which record it is about (for the admin, and to spot a delete arriving before its create)."""
    try:
        parsed = parse()
    except EventError:
        return  # processing records the reason
    event.object_type = parsed.object_type
    event.remote_id = clean_text(parsed.remote_id, 128)
