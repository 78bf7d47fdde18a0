"""Reading a value out of a remote's JSON, and writing one into a payload, by a dotted path."""

from typing import Any


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path ("data.id", "0.id"); None if absent ("" is the data)."""
    for part in path.split(".") if path else []:
        if isinstance(data, list) and part.isdigit():
            data = data[int(part)] if int(part) < len(data) else None
        elif isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def set_path(payload: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        payload = payload.setdefault(part, {})
    payload[leaf] = value


def append_at(payload: dict[str, Any], path: str, item: dict[str, Any]) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        payload = payload.setdefault(part, {})
    payload.setdefault(leaf, []).append(item)
