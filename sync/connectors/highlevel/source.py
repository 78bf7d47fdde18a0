"""The CRM's inbound records: fields through the connection's mappings, and what a delivery
lacks (a real TaskCreate without contactId or body, a contact the mirror does not have yet)
fetched from the CRM (tests/specs/highlevel/webhooks/ documents more than is sent)."""

from typing import Any

from contacts.models import Contact, MirrorModel
from portal.actors import Actor
from sync.connectors import connector_for
from sync.connectors.highlevel import events as highlevel_events
from sync.inbound.apply import UPSERT, RemoteChange, apply_remote_change
from sync.inbound.events import EventError, ParsedEvent, Unresolvable
from sync.inbound.sources import LinkedSource
from sync.mapping.mapper import from_remote
from sync.models import InboundStatus, Link


class HighLevelSource(LinkedSource):
    """CRM events: fields through the connection's mappings; missing data fetched from the CRM."""

    def complete(self, parsed: ParsedEvent) -> ParsedEvent:
        if not highlevel_events.missing_fields(parsed):
            return parsed
        contact_id = parsed.contact_remote_id or self._known_contact_id(parsed)
        if parsed.object_type == "task" and not contact_id:
            title = str(parsed.payload.get("title") or "")
            contact_id = self._connector().task_contact_id(parsed.remote_id, title)
        if parsed.object_type in ("task", "note") and not contact_id:
            raise Unresolvable(
                f"The {parsed.object_type} names no contact, is not known here and the CRM's "
                "search does not find it; reconciliation will bring it."
            )
        record = self._fetch(parsed.object_type, parsed.remote_id, contact_id)
        merged = {**record, **{k: v for k, v in parsed.payload.items() if v not in (None, "")}}
        merged.setdefault("contactId", contact_id)
        parsed.payload = highlevel_events.normalized_record(parsed.object_type, merged)
        parsed.contact_remote_id = str(merged.get("contactId") or "")
        return parsed

    def values(self, parsed: ParsedEvent, instance: MirrorModel | None) -> dict[str, Any]:
        return from_remote(parsed.payload, parsed.object_type, self.connection, instance)

    def contact(self, parsed: ParsedEvent, actor: Actor) -> Contact | None:
        """The parent contact; one the mirror lacks is read from the CRM and applied first."""
        contact, _link = self.find("contact", parsed.contact_remote_id)
        if contact is not None:
            return None if contact.is_deleted else contact
        record = self._fetch("contact", parsed.contact_remote_id)
        fetched = ParsedEvent(
            "contact", UPSERT, parsed.contact_remote_id,
            highlevel_events.normalized_record("contact", record),
        )  # fmt: skip
        change = RemoteChange(
            "contact",
            UPSERT,
            parsed.contact_remote_id,
            self.values(fetched, None),
            highlevel_events.source_time(record, "ContactCreate", None),
        )
        outcome = apply_remote_change(self.connection, change, actor=actor, found=(None, None))
        if outcome.status != InboundStatus.PROCESSED:
            raise EventError(f"Its contact could not be written: {outcome.result}")
        return self.find("contact", parsed.contact_remote_id)[0]

    def _known_contact_id(self, parsed: ParsedEvent) -> str:
        obj, _link = self.find(parsed.object_type, parsed.remote_id)
        contact_id = getattr(obj, "contact_id", None)
        if not contact_id:
            return ""
        link = Link.objects.filter(
            connection=self.connection, object_type="contact", object_id=contact_id
        ).first()
        return link.remote_id if link else ""

    def _fetch(self, object_type: str, remote_id: str, contact_id: str = "") -> dict[str, Any]:
        if not remote_id:
            raise EventError(f"The delivery names no {object_type} to fetch.")
        return self._connector().fetch_record(object_type, remote_id, contact_id)

    def _connector(self):
        return connector_for(self.connection)
