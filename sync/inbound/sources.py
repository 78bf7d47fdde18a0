"""How each kind of sender's records become mirror field values (one class per sender kind).

source.find(object_type, remote_id) -> (mirror object | None, Link | None)
source.finds_by_link(object_type, remote_id) -> bool   whether find is by the Link alone
source.complete(parsed) -> ParsedEvent        fetch what a delivery lacks
source.values(parsed, instance) -> dict       field values for contacts.services
source.contact(parsed, actor) -> Contact|None the parent of a task/note/appointment

A connector names its source (Connector.inbound_source): partners' is PartnerSource here; a
connector with its own record shapes keeps its source in its package. Deciding and writing is
sync.inbound.apply's (the same for every inbound path).
"""

from typing import Any

from contacts.models import Contact, MirrorModel
from contacts.services import writable_fields
from portal.actors import Actor
from sync.inbound.events import EventError, ParsedEvent
from sync.models import Connection, Link
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

    def finds_by_link(self, object_type: str, remote_id: str) -> bool:
        """Whether `find` looks for this record by its Link alone (so a batch may look up many
        records' Links in one query: sync/inbound/creates.py)."""
        return True

    def complete(self, parsed: ParsedEvent) -> ParsedEvent:
        return parsed


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

    def finds_by_link(self, object_type: str, remote_id: str) -> bool:
        return not remote_id.startswith(f"{mirror_model(object_type).PUBLIC_ID_PREFIX}_")

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
