"""Per-connection sync state of mirror objects, for the partner API (contacts.sync_state).

For a page of objects: their Links (remote ids) and the newest outbox row per connection and
object, each row with its connection's slug and provider — two queries whatever the page size.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Max, QuerySet

from contacts.models import MirrorModel
from sync.models import ChangeStatus, Link, OutboundChange
from sync.objects import TYPE_BY_MODEL

Key = tuple[int, int]  # (connection id, object id)
Connection = tuple[str, str]  # (slug, provider)


def sync_states(objects: Sequence[MirrorModel]) -> dict[int, list[dict]]:
    object_type = TYPE_BY_MODEL[type(objects[0])]
    pks = [obj.pk for obj in objects]
    links = Link.objects.filter(object_type=object_type, object_id__in=pks)
    latest = (
        OutboundChange.objects.filter(object_type=object_type, object_id__in=pks)
        .exclude(status=ChangeStatus.COALESCED)
        .values("connection_id", "object_id")
        .annotate(latest=Max("id"))
        .values("latest")
    )
    changes = OutboundChange.objects.filter(pk__in=latest)
    connections: dict[int, Connection] = {}
    link_of = _by_key(links, connections, "remote_id", "last_pushed_at")
    change_of = _by_key(changes, connections, "status", "last_error")
    states: dict[int, list[dict]] = {}
    for key in sorted(set(link_of) | set(change_of)):
        connection_id, object_id = key
        state = _state(connections[connection_id], link_of.get(key), change_of.get(key))
        states.setdefault(object_id, []).append(state)
    return states


def _by_key(rows: QuerySet, connections: dict[int, Connection], *columns: str) -> dict[Key, tuple]:
    """`columns` of each row by (connection, object); each row's connection into `connections`.

    Only the columns a state shows, its connection's through a join: whole Links and
    Connections (the latter decrypting their credentials), or a third query for the
    connections, cost more CPU than the rows themselves on a 100-object page."""
    found = {}
    fields = ("connection_id", "connection__slug", "connection__provider", "object_id", *columns)
    for connection_id, slug, provider, object_id, *values in rows.values_list(*fields):
        connections[connection_id] = (slug, provider)
        found[connection_id, object_id] = tuple(values)
    return found


def _state(
    connection: Connection,
    link: tuple[str, datetime | None] | None,
    change: tuple[str, str] | None,
) -> dict:
    slug, provider = connection
    return {
        "connection": slug,
        "provider": provider,
        "remote_id": link[0] if link else "",
        # No outbox row: the object came from that system (webhook, backfill) and is linked.
        "status": change[0] if change else "linked",
        "last_error": change[1] if change else "",
        "synced_at": link[1] if link else None,
    }
