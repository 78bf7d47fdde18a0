"""A partner's webhooks in its own format: where things are in the body, and how it signs.

Per connection, `options["webhooks"]` (validated when saved: `format_errors`):

    {"signature": {"scheme": "hmac-sha256", "header": "X-SENDOWL-HMAC-SHA256",
                   "encoding": "base64", "prefix": ""}        (or {"scheme": "standard-webhooks"})
     "event_type_path": "event",          where the event type is ("type" by default), or
     "event_type": "order.created",       one type for every delivery (one kind per URL)
     "record_path": "data",               where the record is ("" = the whole body)
     "record_id_path": "data.id",         where its id is (the partner's id, kept in a Link)
     "updated_at_path": "data.updatedAt", the change's time (else the delivery's)
     "contact_id_path": "data.customerId",  a task's/note's/appointment's contact (partner id)
     "events": {"customer.created": {"object_type": "contact", "operation": "upsert"},
                "customer.deleted": {"object_type": "contact", "operation": "delete"}}}

With "events", the record is mapped through the connection's field mappings (direction in or
both) like a listed record, and applied by the one inbound path; an event type not in it is
stored (automations can start from it) and not applied. Without "events", deliveries are in
the partner API's own shape (sync/inbound/partner_events.py). Without "signature", Standard
Webhooks. Secrets are the connection's credentials["webhook_secrets"] (several during a
rotation, any verifies). Pure: nothing here reads settings or the database.
"""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sync.inbound import partner_events
from sync.inbound.events import DELETE, UPSERT, EventError, ParsedEvent, clean_text, required_id
from sync.mapping.paths import dig
from sync.objects import ObjectType
from sync.transport import hmac_signatures, standard_webhooks
from sync.transport.webhook_checks import parse_timestamp

STANDARD, HMAC_SHA256 = "standard-webhooks", "hmac-sha256"
SCHEMES = (STANDARD, HMAC_SHA256)
PATHS = ("event_type_path", "event_type", "record_path", "record_id_path", "updated_at_path",
         "contact_id_path")  # fmt: skip


class WebhookFormat:
    def __init__(self, config: Mapping[str, Any] | None) -> None:
        self.config = dict(config or {})
        self.signature = dict(self.config.get("signature") or {})
        self.events: dict[str, dict[str, str]] = dict(self.config.get("events") or {})

    @property
    def own(self) -> bool:
        """The partner's own format (mapped through field mappings), not our partner API's."""
        return bool(self.events)

    @property
    def scheme(self) -> str:
        return self.signature.get("scheme") or STANDARD

    # --- signature ----------------------------------------------------------------------

    def check_signature(
        self, secrets: Sequence[str], headers: Mapping[str, str], body: bytes
    ) -> str:
        """The delivery's id (for deduplication); SignatureError unless a secret signed it."""
        if self.scheme == STANDARD:
            return standard_webhooks.verify(secrets, headers, body)
        offered = headers.get(self.signature["header"], "")
        hmac_signatures.verify(
            secrets,
            offered,
            body,
            self.signature.get("encoding", "hex"),
            self.signature.get("prefix", ""),
        )
        # No delivery id in this scheme: identical bodies are the same delivery.
        return "sha256:" + hashlib.sha256(body).hexdigest()

    # --- the body -----------------------------------------------------------------------

    def event_type(self, payload: Mapping[str, Any]) -> str:
        if self.config.get("event_type"):
            return clean_text(self.config["event_type"], 64)
        return clean_text(dig(payload, self.config.get("event_type_path") or "type"), 64)

    def knows(self, event_type: str) -> bool:
        return event_type in (self.events if self.own else partner_events.EVENTS)

    def parse(self, payload: dict[str, Any], delivered_at: datetime | None) -> ParsedEvent:
        if not self.own:
            return partner_events.parse(payload, delivered_at)
        event_type = self.event_type(payload)
        kind = self.events.get(event_type)
        if kind is None:
            raise EventError(f"Unknown event type {event_type!r}.")
        record = dig(payload, self.config.get("record_path", ""))
        if not isinstance(record, dict):
            raise EventError("The delivery carries no record object.")
        remote_id = dig(payload, self.config.get("record_id_path") or "id")
        when = self.config.get("updated_at_path")
        contact = self.config.get("contact_id_path")
        return ParsedEvent(
            object_type=kind["object_type"],
            operation=kind["operation"],
            remote_id=required_id(_text(remote_id), self.config.get("record_id_path") or "id"),
            payload=record,
            contact_remote_id=clean_text(_text(dig(payload, contact)), 128) if contact else "",
            source_updated_at=(parse_timestamp(dig(payload, when)) if when else None)
            or delivered_at,
        )


def format_of(connection: Any) -> WebhookFormat:
    return WebhookFormat((connection.options or {}).get("webhooks"))


def _text(value: Any) -> Any:
    """A numeric id as text (partners often number their records)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# --- validation (the admin form) ----------------------------------------------------------


def format_errors(config: Any) -> list[str]:
    """What is wrong with an `options["webhooks"]` value ([] when nothing)."""
    if config in (None, {}):
        return []
    if not isinstance(config, dict):
        return ['webhooks: enter an object (see "Partner webhooks" in the README).']
    errors = [f"webhooks.{key}: enter a dotted path (text)." for key in PATHS
              if not isinstance(config.get(key, ""), str)]  # fmt: skip
    errors += _signature_errors(config.get("signature") or {})
    events = config.get("events") or {}
    if not isinstance(events, dict):
        return [*errors, "webhooks.events: enter an object {event type: {object_type, operation}}."]
    for event_type, kind in events.items():
        if not isinstance(kind, dict) or kind.get("object_type") not in ObjectType.values:
            errors.append(f"webhooks.events.{event_type}: object_type is one of "
                          f"{', '.join(ObjectType.values)}.")  # fmt: skip
        elif kind.get("operation") not in (UPSERT, DELETE):
            errors.append(f"webhooks.events.{event_type}: operation is upsert or delete.")
    return errors


def _signature_errors(signature: Any) -> list[str]:
    if not isinstance(signature, dict):
        return ["webhooks.signature: enter an object {scheme, header, encoding, prefix}."]
    scheme = signature.get("scheme") or STANDARD
    if scheme not in SCHEMES:
        return [f"webhooks.signature.scheme: one of {', '.join(SCHEMES)}."]
    if scheme == STANDARD:
        return []
    errors = []
    header = signature.get("header")
    if not isinstance(header, str) or not header.strip() or ":" in header:
        errors.append("webhooks.signature.header: the name of the header carrying the signature.")
    if signature.get("encoding", "hex") not in hmac_signatures.ENCODINGS:
        errors.append("webhooks.signature.encoding: hex or base64.")
    if not isinstance(signature.get("prefix", ""), str):
        errors.append('webhooks.signature.prefix: text before the digest (e.g. "sha256=").')
    return errors
