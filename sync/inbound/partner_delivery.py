"""A partner's webhook delivery, verified by its connection's scheme (sync/inbound/partner_formats).

    verify_delivery(connection, headers, raw) -> Verified     SignatureError (recorded) if not

(Own-format records are mapped by sync/inbound/partner_source.py.)

A refused delivery is recorded as an inbound event with status *refused* (Sync → Inbound
events, the connection's filter): its reason and non-secret headers, never its unverified
body, and without the post_save signal, so no automation starts from it.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from sync.inbound.intake import kept_headers
from sync.inbound.partner_formats import STANDARD, format_of
from sync.models import Connection, InboundEvent, InboundSource, InboundStatus
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
