"""What a remote last held, as far as we know: a snapshot of its mapped fields on each Link.

    Link.remote_snapshot = {mirror field: [canonical value, ISO time it was known as of]}

It is written when a push succeeds (the fields we sent, as of then) and when an inbound change
is applied (the fields the remote sent, as of the change's own time). It lets both halves work
field by field (architecture invariant 6): a push sends the fields whose mirror value differs
from it, and an inbound change takes the fields that differ from it, so concurrent edits of
different fields on both sides both survive.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contacts.models import MirrorModel
from sync.inbound.values import canonical, mirror_values
from sync.mapping.mapper import mappings_for, mirror_names
from sync.models import Connection, Link


@dataclass(frozen=True)
class Known:
    value: Any
    at: datetime | None


def known_fields(link: Link | None) -> dict[str, Known]:
    """The snapshot of a link ({} for none, or a link made before snapshots were kept)."""
    snapshot = (link.remote_snapshot if link is not None else None) or {}
    return {
        name: Known(entry[0], parse_datetime(entry[1]) if entry[1] else None)
        for name, entry in snapshot.items()
        if isinstance(entry, list) and len(entry) == 2
    }


def with_fields(link: Link | None, seen: dict[str, Any], at: datetime | None) -> dict[str, list]:
    """The link's snapshot with `seen` (canonical values) known as of `at` (default: now)."""
    snapshot = dict((link.remote_snapshot if link is not None else None) or {})
    moment = (at or timezone.now()).isoformat()
    snapshot.update({name: [canonical(value), moment] for name, value in seen.items()})
    return snapshot


def new_link(
    connection: Connection,
    object_type: str,
    object_id: int,
    remote_id: str,
    seen: dict[str, Any],
    at: datetime | None,
) -> dict[str, Any]:
    """A new Link's values: the remote holds `seen` (canonical values) as of `at`."""
    return {
        "connection_id": connection.pk,
        "object_type": object_type,
        "object_id": object_id,
        "remote_id": remote_id,
        "remote_updated_at": at,
        "remote_snapshot": with_fields(None, seen, at),
    }


def mapped_fields(connection: Connection, object_type: str) -> set[str]:
    """The mirror fields this connection's outbound mappings send."""
    names: set[str] = set()
    for spec in mappings_for(connection, object_type):
        if spec.outbound and spec.mirror_field:
            names |= mirror_names(spec)
    return names


def unpushed_fields(link: Link, obj: MirrorModel, names: Iterable[str]) -> set[str]:
    """Of `names`, those whose mirror value is not what the remote is known to hold."""
    known = known_fields(link)
    current = mirror_values(obj, [n for n in names if n in known])
    return {name for name, value in current.items() if value != known[name].value}


def after_push(link: Link, obj: MirrorModel, names: Iterable[str], *, as_of: datetime) -> dict:
    """The link's snapshot once a push succeeded: the remote holds `names` as the mirror does."""
    return with_fields(link, mirror_values(obj, names), as_of)
