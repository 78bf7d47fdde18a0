"""Applying one parsed webhook delivery: the sender's source finds and maps the record, then
the one inbound path (sync.inbound.apply.apply_remote_change) decides and writes.

What stays here is what only deliveries need: a delete that arrived before its create (the
create is then not made), a create that may be the echo of our own create still in flight, and
a retry when two workers create the same record at once.
"""

from django.db import IntegrityError

from portal.actors import Actor
from sync.connectors import connector_class
from sync.inbound.apply import (
    DELETED_UNKNOWN,
    Outcome,
    RemoteChange,
    apply_remote_change,
)
from sync.inbound.events import CHILD_TYPES, DELETE, EventError, ParsedEvent
from sync.inbound.sources import LinkedSource
from sync.models import (
    WAITING,
    ChangeStatus,
    Connection,
    InboundEvent,
    InboundStatus,
    Link,
    OutboundChange,
)
from sync.objects import mirror_model

__all__ = ["CreateInFlight", "CreatesInFlight", "Outcome", "apply_event", "deleted_before"]
NOT_CREATED_DELETED = Outcome(InboundStatus.IGNORED, "deleted at the source earlier: not created")


class CreateInFlight(Exception):
    """The record may be our own create, whose answer (its remote id) we do not have yet."""


def apply_event(parsed: ParsedEvent, connection: Connection) -> Outcome:
    source = connector_class(connection.provider).inbound_source(connection)
    actor = Actor.connection(connection, source="webhook")
    try:
        return _apply(parsed, source, actor, connection)
    except IntegrityError:
        # Another worker created the same record (its Link) first: now it is an update.
        return _apply(parsed, source, actor, connection)


def _apply(
    parsed: ParsedEvent, source: LinkedSource, actor: Actor, connection: Connection
) -> Outcome:
    obj, link = source.find(parsed.object_type, parsed.remote_id)
    parent = None
    if parsed.operation == DELETE:
        values = {}
    elif obj is not None:
        values = source.values(source.complete(parsed), obj)
    else:
        if not parsed.remote_id:
            raise EventError("The delivery carries no record id.")
        if deleted_before(connection, parsed.object_type, [parsed.remote_id]):
            return NOT_CREATED_DELETED
        parsed = source.complete(parsed)
        values = source.values(parsed, None)
        CreatesInFlight(connection, parsed.object_type).check(values.get("email"))
        if parsed.object_type in CHILD_TYPES:
            parent = lambda: source.contact(parsed, actor)  # noqa: E731 (resolved if permitted)
    change = RemoteChange(
        parsed.object_type, parsed.operation, parsed.remote_id, values, parsed.source_updated_at
    )
    return apply_remote_change(connection, change, actor=actor, found=(obj, link), parent=parent)


class CreatesInFlight:
    """The connection's creates of one type still waiting for their answer (their Link has no
    remote id yet). While one is, a create announced by the remote — for contacts, one with the
    same e-mail — may be the echo of ours (the CRM announced it before the push read its answer,
    or the answer was lost to a timeout): creating it again would be a duplicate."""

    def __init__(self, connection: Connection, object_type: str) -> None:
        self.object_type = object_type
        unfinished = OutboundChange.objects.filter(
            connection=connection,
            object_type=object_type,
            status__in=[*WAITING, ChangeStatus.IN_FLIGHT],
        ).values("object_id")
        self.creating = list(
            Link.objects.filter(
                connection=connection,
                object_type=object_type,
                remote_id="",
                object_id__in=unfinished,
            ).values_list("object_id", flat=True)
        )
        self._emails: set[str] | None = None

    def check(self, email: str | None) -> None:
        """Raise CreateInFlight if a create with these values may be the echo of ours."""
        if self._may_be_ours(email):
            raise CreateInFlight(
                f"A create of a {self.object_type} to this connection has no answer yet: "
                "this may be its echo, so it waits for the push to learn the remote id."
            )

    def _may_be_ours(self, email: str | None) -> bool:
        if not self.creating or self.object_type != "contact" or not email:
            return bool(self.creating)
        if self._emails is None:  # the few records being created only: read once
            contacts = mirror_model("contact").objects.filter(pk__in=self.creating)
            self._emails = {e.casefold() for e in contacts.values_list("email", flat=True) if e}
        return email.casefold() in self._emails


def deleted_before(connection: Connection, object_type: str, remote_ids: list[str]) -> set[str]:
    """The remote ids whose delete arrived before their create (out of order): not created."""
    return set(
        InboundEvent.objects.filter(
            connection=connection,
            object_type=object_type,
            remote_id__in=remote_ids,
            status=InboundStatus.PROCESSED,
            result=DELETED_UNKNOWN,
        ).values_list("remote_id", flat=True)
    )
