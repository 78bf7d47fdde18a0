"""What a remote last held, as far as we know: a snapshot of its mapped fields on each Link.

    Link.remote_snapshot = {"@at": ISO time, "@fields": {mirror field: canonical value},
                            mirror field: [canonical value, ISO time], ...}

Each field is known as of a time: the fields under "@fields" as of "@at" (the time most of them
share: a link made from one record, or a push of all its fields), any other field as of its own
time. Written once per field, the shared time was most of a link's size (19 copies of a 32-
character time in a contact's 1.2 kB snapshot; 0.45 kB now), which a backfill writes, logs and
keeps in PostgreSQL's buffers for every contact. Snapshots of the older form, every field as
`[value, time]`, are still read as they are and rewritten in this form when next updated. "@"
cannot begin a mirror field's name. Only this module reads or writes the form.

It is written when a push succeeds (the fields we sent, as of then) and when an inbound change
is applied (the fields the remote sent, as of the change's own time). It lets both halves work
field by field (architecture invariant 6): a push sends the fields whose mirror value differs
from it, and an inbound change takes the fields that differ from it, so concurrent edits of
different fields on both sides both survive.
"""

from collections import Counter
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


SHARED_AT = "@at"
SHARED_FIELDS = "@fields"

# A field's entry as stored: [canonical value, ISO time (or None in old snapshots)].
Entry = list


def _entries(link: Link | None) -> dict[str, Entry]:
    """The link's snapshot as {field: [value, ISO time]}, whichever form it is stored in."""
    snapshot = (link.remote_snapshot if link is not None else None) or {}
    entries: dict[str, Entry] = {}
    shared = snapshot.get(SHARED_FIELDS)
    if isinstance(shared, dict):
        at = snapshot.get(SHARED_AT)
        entries = {name: [value, at] for name, value in shared.items()}
    for name, entry in snapshot.items():
        if isinstance(entry, list) and len(entry) == 2 and not name.startswith("@"):
            entries[name] = entry
    return entries


def _stored(entries: dict[str, Entry]) -> dict[str, Any]:
    """{field: [value, ISO time]} in the stored form: the most common time written once."""
    if not entries:
        return {}
    times = Counter(at for _value, at in entries.values() if at)
    if not times:
        return dict(entries)
    shared_at = times.most_common(1)[0][0]
    snapshot: dict[str, Any] = {SHARED_AT: shared_at, SHARED_FIELDS: {}}
    for name, (value, at) in entries.items():
        if at == shared_at:
            snapshot[SHARED_FIELDS][name] = value
        else:
            snapshot[name] = [value, at]
    return snapshot


def known_fields(link: Link | None) -> dict[str, Known]:
    """The snapshot of a link ({} for none, or a link made before snapshots were kept)."""
    parsed: dict[str, datetime | None] = {}
    known = {}
    for name, (value, at) in _entries(link).items():
        if at not in parsed:
            parsed[at] = parse_datetime(at) if at else None
        known[name] = Known(value, parsed[at])
    return known


def known_values(link: Link | None) -> dict[str, Any]:
    """The snapshot's values alone (what known_fields holds, without parsing times)."""
    return {name: value for name, (value, _at) in _entries(link).items()}


def with_fields(link: Link | None, seen: dict[str, Any], at: datetime | None) -> dict[str, Any]:
    """The link's snapshot with `seen` (canonical values) known as of `at` (default: now)."""
    entries = _entries(link)
    moment = (at or timezone.now()).isoformat()
    if not entries:  # a new link (a backfill's every contact): one time for all, at once
        values = {name: canonical(value) for name, value in seen.items()}
        return {SHARED_AT: moment, SHARED_FIELDS: values} if values else {}
    entries.update({name: [canonical(value), moment] for name, value in seen.items()})
    return _stored(entries)


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
