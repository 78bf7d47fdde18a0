"""Delivery statuses from the e-mail sending API: POST /webhooks/email/<slug>/<token>/.

The API sends them per project (configured in its admin panel) and does not sign them, so the
URL carries a secret per connection (`credentials["webhook_token"]`, compared in constant
time; a wrong or missing one is 404 like an unknown connection). A body is one status object
or a list of them:

    {"event" | "type" | "status": "delivered" | "bounced" | …, "email": "…",
     "user_id": "…", "id" | "message_id": "…", "meta": {"contact": "ct_…", …}}

Each status is stored as an InboundEvent of type `email.<status>` (once per delivery: its id,
else the digest of the item), linked to its contact (by `meta.contact` — we send our public id
in `meta` and the API echoes it —, the user id's Link, or the address), so it shows in the
contact's timeline, and fires automations triggered by that event type ("email.bounced" →
tag the contact in the CRM).
"""

import hashlib
import hmac
import json
import re
from typing import Any

from rest_framework.request import Request

from contacts.models import Contact
from contacts.normalize import email_key
from sync.inbound.events import clean_text
from sync.inbound.intake import Receipt, _insert, kept_headers
from sync.inbound.views import Rejected, WebhookView
from sync.models import Connection, InboundEvent, InboundSource, InboundStatus, Link

STATUS = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
MAX_ITEMS = 500


class EmailStatusWebhookView(WebhookView):
    view_name = "E-mail Status Webhook"

    def receive(self, request: Request, raw: bytes, **kwargs: Any) -> Receipt:
        connection = _connection(kwargs["slug"], kwargs["token"])
        try:
            payload: Any = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise Rejected(400, "invalid_json", "The body is not valid UTF-8 JSON.") from exc
        items = payload if isinstance(payload, list) else [payload]
        if not items or len(items) > MAX_ITEMS or not all(isinstance(i, dict) for i in items):
            raise Rejected(400, "invalid_body", f"Send a status object or a list of 1-{MAX_ITEMS}.")
        stored = [store_status(connection, item, request.headers) for item in items]
        return Receipt(200, {"status": "accepted", "stored": sum(stored), "received": len(items)})


def _connection(slug: str, token: str) -> Connection:
    connection = (
        Connection.objects.live().filter(slug=slug, active=True, provider="email_api").first()
    )
    expected = str((connection.credentials or {}).get("webhook_token", "")) if connection else ""
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        raise Rejected(404, "not_found", "No e-mail API connection at this address.")
    return connection


def status_of(item: dict[str, Any]) -> str:
    raw = item.get("event") or item.get("type") or item.get("status") or ""
    status = str(raw).strip().lower().removeprefix("email.").replace(" ", "_")
    if not STATUS.match(status):
        raise Rejected(400, "invalid_body", f"Unknown delivery status {raw!r}.")
    return status


def store_status(connection: Connection, item: dict[str, Any], headers) -> bool:
    """Store one status (False if this delivery was stored before) and fire automations."""
    from sync.automations.inbound import fire_inbound

    status = status_of(item)
    body = json.dumps(item, sort_keys=True, default=str)
    raw_id = item.get("id") or item.get("message_id")
    delivery_id = clean_text(str(raw_id) if raw_id is not None else None, 100)
    contact = contact_for(connection, item)
    event = InboundEvent(
        source=InboundSource.PARTNER,
        source_key=f"email:{connection.pk}",
        connection=connection,
        workspace_id=connection.workspace_id,
        event_type=f"email.{status}",
        webhook_id=f"{delivery_id}:{status}" if delivery_id else _digest(body),
        routing_key=connection.slug,
        object_type="contact" if contact else "",
        remote_id=contact.public_id if contact else "",
        body=body,
        headers=kept_headers(headers),
        signature_scheme="url-token",
        status=InboundStatus.PROCESSED if contact else InboundStatus.UNMATCHED,
        result=f"{status} for {contact.public_id}" if contact else "no contact for this status",
    )
    if not _insert(event):
        return False
    fire_inbound(event, contact)
    return True


def contact_for(connection: Connection, item: dict[str, Any]) -> Contact | None:
    contacts = Contact.objects.filter(workspace_id=connection.workspace_id)
    meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
    if isinstance(meta.get("contact"), str):
        found = contacts.filter(public_id=meta["contact"]).first()
        if found:
            return found
    user_id = item.get("user_id")
    if user_id:
        link = Link.objects.filter(
            connection=connection, object_type="contact", remote_id=str(user_id)
        ).first()
        if link:
            return contacts.filter(pk=link.object_id).first()
    email = item.get("email")
    if isinstance(email, str) and email.strip():
        return contacts.filter(email_key=email_key(email)).first()
    return None


def _digest(body: str) -> str:
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()
