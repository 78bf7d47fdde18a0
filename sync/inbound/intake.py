"""Accepting a verified delivery: route it, store it raw once, enqueue its processing.

Deduplication is the unique (source_key, routing_key, webhook_id) constraint — per CRM
location (or company), never across them — so two processes receiving the same delivery at
the same moment store it once: the loser's insert fails and it answers 200 "duplicate" too.
Processing is enqueued after commit with the event id only.

The insert is the request's only statement (besides the rate-limit counter in the cache):
outside a transaction it runs in autocommit, so it is committed (and durable:
synchronous_commit stays on) before the answer, without the BEGIN and COMMIT round trips of a
transaction block around it.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from sync.connectors.highlevel import events as highlevel_events
from sync.inbound.events import EventError, clean_text
from sync.inbound.partner_formats import format_of
from sync.inbound.routing import cached_route, candidates
from sync.models import Connection, InboundEvent, InboundSource, InboundStatus

KEPT_HEADERS = ("content-type", "user-agent", "webhook-id", "webhook-timestamp", "x-request-id")
HIGHLEVEL_SOURCE_KEY = "highlevel"


@dataclass
class Receipt:
    status_code: int
    body: dict[str, Any] = field(default_factory=dict)


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping for operators: never signatures, cookies or credentials."""
    return {name: clean_text(headers.get(name), 500) for name in KEPT_HEADERS if name in headers}


def route(source: str, routing_key: str, event_type: str) -> Connection | None:
    """The CRM connection for a locationId (companyId for user events), read afresh."""
    if source != InboundSource.HIGHLEVEL or not routing_key:
        return None
    return candidates(routing_key, event_type).select_related("workspace").first()


def receive_highlevel(
    raw: str,
    payload: dict[str, Any],
    *,
    headers: Mapping[str, str],
    scheme: str,
    timestamp: datetime,
) -> Receipt:
    event_type = clean_text(payload.get("type"), 64)
    routing_key = highlevel_events.routing_key(payload)
    known = highlevel_events.event_spec(event_type) is not None
    routed = cached_route(routing_key, event_type) if known and routing_key else None
    webhook_id = clean_text(payload.get("webhookId"), 128) or _body_digest(raw)
    return _store(
        InboundEvent(
            source=InboundSource.HIGHLEVEL,
            source_key=HIGHLEVEL_SOURCE_KEY,
            event_type=event_type,
            webhook_id=webhook_id,
            routing_key=routing_key,
            signature_scheme=scheme,
            source_timestamp=timestamp,
            connection_id=routed.connection_id if routed else None,
            workspace_id=routed.workspace_id if routed else None,
            **_common(raw, headers),
        ),
        known=known,
        parse=lambda: highlevel_events.parse(payload, timestamp),
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
        # Marked enqueued in the insert itself (saves an UPDATE per webhook); unmarked below
        # if the broker refuses it, so the sweeper picks it up at its next run.
        event.enqueued_at = timezone.now()
    if not _insert(event):
        return Receipt(200, {"status": "duplicate", "webhook_id": event.webhook_id})
    if event.status != InboundStatus.RECEIVED:
        return Receipt(202, {"status": event.status, "id": event.pk, "reason": event.result})
    event_id = event.pk
    transaction.on_commit(lambda: _enqueue(event_id))  # at once in autocommit
    return Receipt(200, {"status": "accepted", "id": event.pk})


def _insert(event: InboundEvent) -> bool:
    """Store the event; False if this delivery is already stored (the unique constraint)."""
    try:
        # Inside a caller's transaction, a savepoint keeps it usable after a duplicate.
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                event.save(force_insert=True)
        else:  # autocommit: one statement, committed when it returns
            event.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def _describe_record(event: InboundEvent, parse) -> None:
    """Which record it is about (for the admin, and to spot a delete arriving before its create)."""
    try:
        parsed = parse()
    except EventError:
        return  # processing records the reason
    event.object_type = parsed.object_type
    event.remote_id = clean_text(parsed.remote_id, 128)


def _enqueue(event_id: int) -> None:
    from sync.inbound.tasks import enqueue_events

    enqueue_events([event_id], marked=True)


def _body_digest(raw: str) -> str:
    # Without a webhookId, identical bodies are the same delivery.
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
