"""Per-connection sync state of mirror objects, for the partner API (contacts.sync_state).

For a page of objects: their Links (remote ids) and the newest outbox row per connection and
object — three queries whatever the page size.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Max

from contacts.models import MirrorModel
from sync.models import ChangeStatus, Connection, Link, OutboundChange
from sync.objects import TYPE_BY_MODEL


def sync_states(objects: Sequence[MirrorModel]) -> dict[int, list[dict]]:
    object_type = TYPE_BY_MODEL[type(objects[0])]
    pks = [obj.pk for obj in objects]
    # Only the columns a state shows: whole Links and Connections (the latter decrypting
    # their credentials) cost more CPU than the queries themselves on a 100-object page.
    links = {
        (connection_id, object_id): (remote_id, pushed_at)
        for connection_id, object_id, remote_id, pushed_at in Link.objects.filter(
            object_type=object_type, object_id__in=pks
        ).values_list("connection_id", "object_id", "remote_id", "last_pushed_at")
    }
    latest_per_connection = (
        OutboundChange.objects.filter(object_type=object_type, object_id__in=pks)
        .exclude(status=ChangeStatus.COALESCED)
        .values("connection_id", "object_id")
        .annotate(latest=Max("id"))
        .values("latest")
    )
    changes = {
        (connection_id, object_id): (status, last_error)
        for connection_id, object_id, status, last_error in OutboundChange.objects.filter(
            pk__in=latest_per_connection
        ).values_list("connection_id", "object_id", "status", "last_error")
    }
    keys = sorted(set(links) | set(changes))
    connections = {
        pk: (slug, provider)
        for pk, slug, provider in Connection.objects.filter(
            pk__in={connection_id for connection_id, _ in keys}
        ).values_list("pk", "slug", "provider")
    }
    states: dict[int, list[dict]] = {}
    for key in keys:
        connection_id, object_id = key
        state = _state(connections[connection_id], links.get(key), changes.get(key))
        states.setdefault(object_id, []).append(state)
    return states


def _state(
    connection: tuple[str, str],
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
