"""Records in a partner's own webhook format (sync/inbound/partner_formats.py) as mirror values.

The source sync/inbound/delivery.py uses for a connection whose webhooks are in the partner's
format: records are found by their Link to the connection and mapped through its field
mappings (direction in or both), as its listed records are; deciding and writing is
sync.inbound.apply's.
"""

from typing import Any

from contacts.models import Contact, MirrorModel
from portal.actors import Actor
from sync.inbound.apply import UPSERT, RemoteChange, find
from sync.inbound.events import EventError, ParsedEvent
from sync.mapping.mapper import from_remote
from sync.models import Connection, Link


class MappedPartnerSource:
    """Records in the partner's own shape: found by their Link to the connection, mapped
    through its field mappings (as listed records are), parents by their partner ids."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def find(self, object_type: str, remote_id: str) -> tuple[MirrorModel | None, Link | None]:
        return find(self.connection, RemoteChange(object_type, UPSERT, remote_id, {}))

    def finds_by_link(self, object_type: str, remote_id: str) -> bool:
        return True

    def complete(self, parsed: ParsedEvent) -> ParsedEvent:
        return parsed

    def values(self, parsed: ParsedEvent, instance: MirrorModel | None) -> dict[str, Any]:
        return from_remote(parsed.payload, parsed.object_type, self.connection, instance)

    def contact(self, parsed: ParsedEvent, actor: Actor) -> Contact | None:
        contact, _link = self.find("contact", parsed.contact_remote_id)
        if contact is None:
            raise EventError(f"Its contact {parsed.contact_remote_id!r} is not linked here.")
        return None if contact.is_deleted else contact
