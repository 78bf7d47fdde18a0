"""A partner's webhook delivery: verified by its connection's scheme, and its records mapped.

    verify_delivery(connection, headers, raw) -> Verified     SignatureError (recorded) if not
    MappedPartnerSource(connection)                           the source of own-format records

A refused delivery is recorded as an inbound event with status *refused* (Sync → Inbound
events, the connection's filter): its reason and non-secret headers, never its unverified
body, and without the post_save signal, so no automation starts from it.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from contacts.models import Contact, MirrorModel
from portal.actors import Actor
from sync.inbound.apply import UPSERT, RemoteChange, find
from sync.inbound.events import EventError, ParsedEvent
from sync.inbound.intake import kept_headers
from sync.inbound.partner_formats import STANDARD, format_of
from sync.mapping.mapper import from_remote
from sync.models import Connection, InboundEvent, InboundSource, InboundStatus, Link
from sync.transport.webhook_checks import SignatureError, parse_timestamp


@dataclass
class Verified:
    msg_id: str
    scheme: str
    timestamp: datetime | None  # when it was sent (Standard Webhooks), else when received


def verify_delivery(connection: Connection, headers: Mapping[str, str], raw: bytes) -> Verified:
    webhook_format = format_of(connection)
    try:
        msg_id = webhook_format.check_signature(webhook_secrets(connection), headers, raw)
    except SignatureError as exc:
        record_refusal(connection, headers, webhook_format.scheme, exc)
        raise
    if webhook_format.scheme == STANDARD:
        timestamp = parse_timestamp(headers["webhook-timestamp"])  # verified digits
    else:
        timestamp = timezone.now()
    return Verified(msg_id, webhook_format.scheme, timestamp)


def webhook_secrets(connection: Connection) -> list[str]:
    """The connection's inbound secrets (several during rotation), stored encrypted."""
    credentials = connection.credentials or {}
    secrets = credentials.get("webhook_secrets") or [credentials.get("webhook_secret")]
    usable = [s for s in secrets if isinstance(s, str) and s]
    if not usable:
        raise SignatureError("not_configured", "This connection has no webhook secret.")
    return usable


def record_refusal(
    connection: Connection, headers: Mapping[str, str], scheme: str, exc: SignatureError
) -> None:
    now = timezone.now()
    InboundEvent.objects.bulk_create(  # bulk: no post_save, so no automation fires
        [
            InboundEvent(
                source=InboundSource.PARTNER,
                source_key=f"connection:{connection.pk}",
                event_type="",
                webhook_id=f"refused:{uuid.uuid4().hex}",
                routing_key=connection.slug,
                body="",  # not verified: not kept
                headers=kept_headers(headers),
                signature_scheme=scheme,
                connection_id=connection.pk,
                workspace_id=connection.workspace_id,
                status=InboundStatus.REFUSED,
                result=f"refused: {exc.code}",
                error=exc.message[:2000],
                processed_at=now,
            )
        ]
    )


class MappedPartnerSource:
    """Records in the partner's own shape: found by their Link to the connection, mapped
    through its field mappings (as listed records are), parents by their partner ids."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def find(self, object_type: str, remote_id: str) -> tuple[MirrorModel | None, Link | None]:
        return find(self.connection, RemoteChange(object_type, UPSERT, remote_id, {}))

    def complete(self, parsed: ParsedEvent) -> ParsedEvent:
        return parsed

    def values(self, parsed: ParsedEvent, instance: MirrorModel | None) -> dict[str, Any]:
        return from_remote(parsed.payload, parsed.object_type, self.connection, instance)

    def contact(self, parsed: ParsedEvent, actor: Actor) -> Contact | None:
        contact, _link = self.find("contact", parsed.contact_remote_id)
        if contact is None:
            raise EventError(f"Its contact {parsed.contact_remote_id!r} is not linked here.")
        return None if contact.is_deleted else contact
