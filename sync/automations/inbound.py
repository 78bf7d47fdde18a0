"""Inbound events as automation triggers: every partner webhook stored by the intake
(sync/inbound/intake.py) — whatever its type, e.g. `purchase.created` from the store — and
every e-mail delivery status (sync/inbound/email_status.py).

`on_inbound_saved` receives post_save of InboundEvent: it fires once per stored event (the
intake stores a repeated delivery once; the run is unique per event anyway). A failure here
is logged, never turned into an error for the sender: the event is already stored.
"""

import json
import logging
from typing import Any

from contacts.models import Contact
from contacts.normalize import email_key
from sync.models import InboundEvent, InboundSource

logger = logging.getLogger(__name__)


def on_inbound_saved(sender, *, instance: InboundEvent, created: bool, **kwargs: Any) -> None:
    if not created or instance.source != InboundSource.PARTNER:
        return
    if instance.source_key.startswith("email:"):
        return  # e-mail statuses fire with their contact (sync/inbound/email_status.py)
    try:
        runs = fire_inbound(instance)
    except Exception:
        logger.exception("Automations for inbound event %s could not start", instance.pk)
        return
    if runs:  # an operator reading the event sees what it started
        note = f"{instance.result}; " if instance.result else ""
        started = f"{note}started {len(runs)} automation run(s)"[:255]
        InboundEvent.objects.filter(pk=instance.pk).update(result=started)


def fire_inbound(event: InboundEvent, contact: Contact | None = None) -> list:
    from sync.automations.triggers import fire_for_event

    try:
        payload = json.loads(event.body)
    except ValueError:
        payload = {}
    if contact is None:
        contact = contact_of(event.workspace_id, payload)
    return fire_for_event(event, payload, contact)


def contact_of(workspace_id: int | None, payload: Any) -> Contact | None:
    """The mirror contact an event names: `data.contact` (public id) or an e-mail address in
    `data.email`, `data.customer.email` or `data.contact.email`."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or not workspace_id:
        return None
    contacts = Contact.objects.live().filter(workspace_id=workspace_id)
    if isinstance(data.get("contact"), str):
        found = contacts.filter(public_id=data["contact"]).first()
        if found:
            return found
    email = data.get("email")
    for key in ("customer", "contact"):
        if not email and isinstance(data.get(key), dict):
            email = data[key].get("email")
    if isinstance(email, str) and email.strip():
        return contacts.filter(email_key=email_key(email)).first()
    return None
