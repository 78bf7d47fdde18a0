"""Per-connection sync state of mirror objects, for the partner API (contacts.sync_state).

For a page of objects: their Links (remote ids) and the newest outbox row per connection and
object — three queries whatever the page size.
"""

from collections.abc import Sequence

from django.db.models import Max

from contacts.models import MirrorModel
from sync.models import ChangeStatus, Connection, Link, OutboundChange
from sync.objects import TYPE_BY_MODEL


def sync_states(objects: Sequence[MirrorModel]) -> dict[int, list[dict]]:
    object_type = TYPE_BY_MODEL[type(objects[0])]
    pks = [obj.pk for obj in objects]
    links = {
        (link.connection_id, link.object_id): link
        for link in Link.objects.filter(object_type=object_type, object_id__in=pks)
    }
    latest_per_connection = (
        OutboundChange.objects.filter(object_type=object_type, object_id__in=pks)
        .exclude(status=ChangeStatus.COALESCED)
        .values("connection_id", "object_id")
        .annotate(latest=Max("id"))
        .values("latest")
    )
    changes = {
        (change.connection_id, change.object_id): change
        for change in OutboundChange.objects.filter(pk__in=latest_per_connection)
    }
    keys = sorted(set(links) | set(changes))
    connections = Connection.objects.in_bulk({connection_id for connection_id, _ in keys})
    states: dict[int, list[dict]] = {}
    for key in keys:
        connection_id, object_id = key
        state = _state(connections[connection_id], links.get(key), changes.get(key))
        states.setdefault(object_id, []).append(state)
    return states


def _state(connection: Connection, link: Link | None, change: OutboundChange | None) -> dict:
    return {
        "connection": connection.slug,
        "provider": connection.provider,
        "remote_id": link.remote_id if link else "",
        # No outbox row: the object came from that system (webhook, backfill) and is linked.
        "status": change.status if change else "linked",
        "last_error": change.last_error if change else "",
        "synced_at": link.last_pushed_at if link else None,
    }
