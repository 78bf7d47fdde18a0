"""Applying one parsed event to the mirror, through contacts/services.py (the one write path).

Policy (architecture invariants 5 and 6):
- newest wins by the sender's timestamp (`source_updated_at`); an older event changes nothing;
- a tombstone is final: an update, or a late create, never brings a deleted record back;
- a connection that is source of truth for an object type always wins (no timestamp
  comparison), and then other connections' events never change existing records of that type;
- an event whose state is what we hold, or what we last pushed to the sender, is an echo: no
  write, so no audit row and no outbox row;
- every write names `Actor.connection(connection, source="webhook")`, so the outbox never
  pushes the change back to the connection it came from (other connections do receive it).
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from contacts.models import MirrorModel
from contacts.services import mirror_create, mirror_delete, mirror_update
from portal.actors import Actor
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
from sync.webhooks.events import CHILD_TYPES, DELETE, EventError, ParsedEvent
from sync.webhooks.sources import LinkedSource, source_for

DELETED = "deleted"
DELETED_UNKNOWN = "deleted before it was known here"


class CreateInFlight(Exception):
    """The record may be our own create, whose answer (its remote id) we do not have yet."""


@dataclass
class Outcome:
    status: str
    result: str


def apply_event(parsed: ParsedEvent, connection: Connection) -> Outcome:
    source = source_for(connection)
    actor = Actor.connection(connection, source="webhook")
    if parsed.operation == DELETE:
        return _delete(parsed, source, actor)
    try:
        return _upsert(parsed, source, actor, connection)
    except IntegrityError:
        # Another worker created the same record (its Link) first: now it is an update.
        return _upsert(parsed, source, actor, connection)


def _delete(parsed: ParsedEvent, source: LinkedSource, actor: Actor) -> Outcome:
    obj, _link = source.find(parsed.object_type, parsed.remote_id)
    if obj is None:
        return Outcome(InboundStatus.PROCESSED, DELETED_UNKNOWN)
    _obj, changed = mirror_delete(obj, actor=actor, source_updated_at=parsed.source_updated_at)
    if not changed:
        return Outcome(InboundStatus.ECHO, "already deleted")
    return Outcome(InboundStatus.PROCESSED, DELETED)


def _upsert(
    parsed: ParsedEvent, source: LinkedSource, actor: Actor, connection: Connection
) -> Outcome:
    obj, link = source.find(parsed.object_type, parsed.remote_id)
    if obj is None:
        return _create(parsed, source, actor, connection)
    if obj.is_deleted:
        return Outcome(InboundStatus.IGNORED, "deleted here: not brought back")
    if _another_source_of_truth(connection, parsed.object_type):
        return Outcome(InboundStatus.IGNORED, "another connection is the source of truth")
    values = source.values(source.complete(parsed), obj)
    if source.is_echo(obj, values, link):
        return Outcome(InboundStatus.ECHO, "the state we last sent")
    sot = connection.is_source_of_truth(parsed.object_type)
    if not sot and _is_older(parsed, obj):
        return Outcome(InboundStatus.IGNORED, "older than the state we hold")
    with transaction.atomic():
        updated, changed = mirror_update(
            obj,
            actor=actor,
            data=values,
            source_updated_at=None if sot else parsed.source_updated_at,
        )
        if not changed:
            return Outcome(InboundStatus.ECHO, "nothing changed")
        source.remember(updated, parsed, link)
    return Outcome(InboundStatus.PROCESSED, f"updated {updated.public_id}")


def _create(
    parsed: ParsedEvent, source: LinkedSource, actor: Actor, connection: Connection
) -> Outcome:
    if _deleted_before(connection, parsed):
        return Outcome(InboundStatus.IGNORED, "deleted at the source earlier: not created")
    parsed = source.complete(parsed)
    if _own_create_in_flight(parsed, source, connection):
        raise CreateInFlight(
            f"A create of a {parsed.object_type} to this connection has no answer yet: "
            "this may be its echo, so it waits for the push to learn the remote id."
        )
    with transaction.atomic():
        data = {}
        if parsed.object_type in CHILD_TYPES:
            contact = source.contact(parsed, actor)
            if contact is None:
                return Outcome(InboundStatus.IGNORED, "its contact is deleted here")
            data["contact"] = contact
        data.update({k: v for k, v in source.values(parsed, None).items() if v is not None})
        obj: MirrorModel = mirror_create(
            mirror_model(parsed.object_type),
            workspace=connection.workspace,
            actor=actor,
            data=data,
            source_updated_at=parsed.source_updated_at,
        )
        source.remember(obj, parsed, None)
    return Outcome(InboundStatus.PROCESSED, f"created {obj.public_id}")


def _own_create_in_flight(
    parsed: ParsedEvent, source: LinkedSource, connection: Connection
) -> bool:
    """A push still creating this type here (its Link has no remote id) and, for contacts,
    the same e-mail: the CRM announced our own create before the push read its answer (or the
    answer was lost to a timeout). Creating it again would be a duplicate."""
    unfinished = OutboundChange.objects.filter(
        connection=connection,
        object_type=parsed.object_type,
        status__in=[*WAITING, ChangeStatus.IN_FLIGHT],
    ).values("object_id")
    creating = Link.objects.filter(
        connection=connection,
        object_type=parsed.object_type,
        remote_id="",
        object_id__in=unfinished,
    )
    email = source.values(parsed, None).get("email") if parsed.object_type == "contact" else None
    if email:
        same = mirror_model("contact").objects.filter(
            workspace_id=connection.workspace_id, email__iexact=email
        )
        creating = creating.filter(object_id__in=same.values("pk"))
    return creating.exists()


def _is_older(parsed: ParsedEvent, obj: MirrorModel) -> bool:
    return bool(
        parsed.source_updated_at
        and obj.source_updated_at
        and parsed.source_updated_at < obj.source_updated_at
    )


def _another_source_of_truth(connection: Connection, object_type: str) -> bool:
    others = Connection.objects.live().filter(workspace_id=connection.workspace_id, active=True)
    return any(
        other.is_source_of_truth(object_type)
        for other in others.exclude(pk=connection.pk).only("source_of_truth")
    )


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
