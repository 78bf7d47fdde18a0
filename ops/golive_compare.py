"""Comparing what a push sent with what the remote holds, field by field through the mappings.

    compare(obj, remote, connection) -> ["companyName ← company_name: sent 'X', remote has …"]

Each outbound mapping's value (as `to_remote` sends it) is looked up at the same path of the
record read back. Values are compared as the remote may reasonably rewrite them: text without
surrounding blanks and case for e-mails, instants for dates ("…Z" vs "+00:00", a date-only
value against a midnight time), lists as sets, custom-field lists by id. Anything else that
differs — above all a value that is simply not there — is reported: that mapping loses it.
"""

import datetime
from typing import Any

from contacts.models import MirrorModel
from sync.connectors import connector_class
from sync.mapping.mapper import mappings_for, to_remote
from sync.objects import object_type_of

MISSING = object()


def compare(obj: MirrorModel, remote: dict[str, Any], connection) -> list[str]:
    object_type = object_type_of(obj)
    sent = to_remote(obj, connection)
    # Where the remote's reads put a field its writes take elsewhere (the connector knows).
    moved = getattr(connector_class(connection.provider), "read_paths", {}).get(object_type, {})
    problems = []
    for spec in mappings_for(connection, object_type):
        if not spec.outbound:
            continue
        expected = read_path(sent, spec.remote_path)
        if expected is MISSING:
            continue  # nothing was sent for it (an empty value)
        actual = read_path(remote, spec.remote_path)
        if actual is MISSING and spec.remote_path in moved:
            actual = read_path(remote, moved[spec.remote_path])
        if not same(expected, actual):
            shown = "nothing" if actual is MISSING else repr(actual)
            problems.append(
                f"{spec.remote_path} ← {spec.mirror_field}: sent {expected!r}, "
                f"the remote has {shown}"
            )
    return problems


def read_path(data: Any, path: str) -> Any:
    if "#" in path:
        list_path, key = path.split("#", 1)
        entries = read_path(data, list_path)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and key in (entry.get("id"), entry.get("key")):
                return entry.get("field_value", entry.get("value"))
        return MISSING
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return MISSING
        data = data[part]
    return data


def same(expected: Any, actual: Any) -> bool:
    if actual is MISSING:
        return False
    if isinstance(expected, str) and isinstance(actual, str | int | float):
        actual = str(actual)  # e.g. an enum sent as text
    if isinstance(expected, list) and isinstance(actual, list):
        return _as_set(expected) == _as_set(actual)
    if isinstance(expected, str) and isinstance(actual, str):
        if _instant(expected) is not None and _instant(actual) is not None:
            return _instant(expected) == _instant(actual)
        return expected.strip().casefold() == actual.strip().casefold()
    return expected == actual


def _as_set(values: list[Any]) -> set[str]:
    def key(value: Any) -> str:
        if isinstance(value, dict):  # a custom-field entry: {"id", "field_value" | "value"}
            found = value.get("field_value", value.get("value"))
            return f"{value.get('id') or value.get('key')}={found}"
        return str(value).strip().casefold()

    return {key(v) for v in values}


def _instant(text: str) -> datetime.datetime | None:
    if len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return None
    try:
        parsed = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
