"""How each kind of sender's records become mirror field values (one class per sender kind).

source.find(object_type, remote_id) -> (mirror object | None, Link | None)
source.complete(parsed) -> ParsedEvent        fetch what a delivery lacks (CRM)
source.values(parsed, instance) -> dict       field values for contacts.services
source.contact(parsed, actor) -> Contact|None the parent of a task/note/appointment

Deciding and writing is sync.inbound.apply's (the same for every inbound path).
"""

from typing import Any

from contacts.models import Contact, MirrorModel
from contacts.services import writable_fields
from portal.actors import Actor
from sync.connectors import connector_for
from sync.connectors.highlevel import events as highlevel_events
from sync.inbound.apply import UPSERT, RemoteChange, apply_remote_change
from sync.inbound.events import EventError, ParsedEvent, Unresolvable
from sync.inbound.partner_formats import format_of
from sync.inbound.partner_source import MappedPartnerSource
from sync.mapping.mapper import from_remote
from sync.models import Connection, InboundStatus, Link
from sync.objects import TYPE_BY_MODEL, mirror_model


class LinkedSource:
    """Common ground: records are found by their Link to the sending connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def find(self, object_type: str, remote_id: str) -> tuple[MirrorModel | None, Link | None]:
        link = Link.objects.filter(
            connection=self.connection, object_type=object_type, remote_id=remote_id
        ).first()
        if link is None:
            return None, None
        obj = mirror_model(object_type).objects.filter(pk=link.object_id).first()
        return obj, link

    def complete(self, parsed: ParsedEvent) -> ParsedEvent:
        return parsed


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


class PartnerSource(LinkedSource):
    """Partner events in the API's own shape: mirror field names and our public ids."""

    def find(self, object_type: str, remote_id: str) -> tuple[MirrorModel | None, Link | None]:
        model = mirror_model(object_type)
        if remote_id.startswith(f"{model.PUBLIC_ID_PREFIX}_"):
            obj = model.objects.filter(
                workspace_id=self.connection.workspace_id, public_id=remote_id
            ).first()
            if obj is None:
                raise EventError(f"No {object_type} {remote_id!r} in this workspace.")
            link = Link.objects.filter(
                connection=self.connection, object_type=object_type, object_id=obj.pk
            ).first()
            return obj, link or _OWN_ID
        return super().find(object_type, remote_id)

    def values(self, parsed: ParsedEvent, instance: MirrorModel | None) -> dict[str, Any]:
        fields = writable_fields(mirror_model(parsed.object_type))
        values: dict[str, Any] = {}
        for name, value in parsed.payload.items():
            field = fields.get(name)
            if field is None:
                continue
            values[name] = self._related(field.related_model, value) if field.is_relation else value
        return values

    def contact(self, parsed: ParsedEvent, actor: Actor) -> Contact | None:
        if not parsed.contact_remote_id:
            raise EventError(f"A {parsed.object_type} needs its contact.")
        contact = self._related(Contact, parsed.contact_remote_id)
        return None if contact.is_deleted else contact

    def _related(self, model: type[MirrorModel], public_id: Any) -> MirrorModel | None:
        if public_id in (None, ""):
            return None
        related = model.objects.filter(
            workspace_id=self.connection.workspace_id, public_id=str(public_id)
        ).first()
        if related is None:
            raise EventError(f"No {TYPE_BY_MODEL[model]} {public_id!r} in this workspace.")
        return related


# A record named by our own public id needs no Link to the partner (an unsaved one: nothing to
# keep in step).
_OWN_ID = Link()


def source_for(connection: Connection) -> LinkedSource | MappedPartnerSource:
    if connection.provider == "highlevel":
        return HighLevelSource(connection)
    if format_of(connection).own:  # the partner's own format: mapped like its listings
        return MappedPartnerSource(connection)
    return PartnerSource(connection)
