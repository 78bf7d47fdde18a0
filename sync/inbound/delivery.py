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

__all__ = ["CreateInFlight", "Outcome", "apply_event"]


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
        if _deleted_before(connection, parsed):
            return Outcome(InboundStatus.IGNORED, "deleted at the source earlier: not created")
        parsed = source.complete(parsed)
        values = source.values(parsed, None)
        if _own_create_in_flight(parsed.object_type, values.get("email"), connection):
            raise CreateInFlight(
                f"A create of a {parsed.object_type} to this connection has no answer yet: "
                "this may be its echo, so it waits for the push to learn the remote id."
            )
        if parsed.object_type in CHILD_TYPES:
            parent = lambda: source.contact(parsed, actor)  # noqa: E731 (resolved if permitted)
    change = RemoteChange(
        parsed.object_type, parsed.operation, parsed.remote_id, values, parsed.source_updated_at
    )
    return apply_remote_change(connection, change, actor=actor, found=(obj, link), parent=parent)


def _own_create_in_flight(object_type: str, email: str | None, connection: Connection) -> bool:
    """A push still creating this type here (its Link has no remote id) and, for contacts,
    the same e-mail: the CRM announced our own create before the push read its answer (or the
    answer was lost to a timeout). Creating it again would be a duplicate."""
    unfinished = OutboundChange.objects.filter(
        connection=connection,
        object_type=object_type,
        status__in=[*WAITING, ChangeStatus.IN_FLIGHT],
    ).values("object_id")
    creating = list(
        Link.objects.filter(
            connection=connection, object_type=object_type, remote_id="", object_id__in=unfinished
        ).values_list("object_id", flat=True)
    )
    if not creating or object_type != "contact" or not email:
        return bool(creating)
    # Only the few records being created are compared (a case-blind e-mail match has no index).
    same = mirror_model("contact").objects.filter(pk__in=creating, email__iexact=email)
    return same.exists()


def _deleted_before(connection: Connection, parsed: ParsedEvent) -> bool:
    """A delete for this remote id arrived before its create (out of order)."""
    if not parsed.remote_id:
        raise EventError("The delivery carries no record id.")
    return InboundEvent.objects.filter(
        connection=connection,
        object_type=parsed.object_type,
        remote_id=parsed.remote_id,
        status=InboundStatus.PROCESSED,
        result=DELETED_UNKNOWN,
    ).exists()
