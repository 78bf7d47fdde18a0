"""Rules: conditions on a mirror record, grouped with AND/OR.

A condition is {"field": <mirror field or "custom_fields.<key>">, "operator": <OP>, "value": v};
a group is {"op": "AND"|"OR", "conditions": [...]} and groups nest. An empty group is true.

    matches(conditions, values) -> bool        values: {field: value} (see record_values)
    validate_conditions(conditions) -> None    raises RuleError with a clear message
    passes_filters(connection, obj) -> bool    every active FILTER rule for the type matches
    triggered_actions(connection, obj, changes) -> list[Rule]   ACTION rules that became true
"""

from collections.abc import Callable
from typing import Any

from contacts.models import MirrorModel
from sync.models import Connection, Rule
from sync.objects import object_type_of


class RuleError(ValueError):
    """A rule that cannot be evaluated (unknown operator, wrong value shape)."""


def _like(actual: Any, pattern: Any) -> bool:
    """SQL LIKE (`%` any run, `_` one character), case-insensitive, without a regex.

    A regex for `%a%a%b%` backtracks exponentially on a long value (seconds inside the write
    transaction). Here the literal segments between `%`s are placed leftmost-first, which is
    always a match when any placement is: O(len(value) * len(pattern)), no backtracking.
    """
    text = [ch.lower() for ch in str(actual or "")]
    segments = [[ch.lower() for ch in part] for part in str(pattern).split("%")]
    first, last = segments[0], segments[-1]
    if len(segments) == 1:
        return len(text) == len(first) and _fits(text, 0, first)
    end = len(text) - len(last)
    if end < len(first) or not (_fits(text, 0, first) and _fits(text, end, last)):
        return False
    position = len(first)
    for segment in segments[1:-1]:
        found = _find(text, segment, position, end)
        if found < 0:
            return False
        position = found + len(segment)
    return True


def _fits(text: list[str], start: int, segment: list[str]) -> bool:
    return all(ch == "_" or ch == text[start + i] for i, ch in enumerate(segment))


def _find(text: list[str], segment: list[str], start: int, end: int) -> int:
    """The first index ≥ start where `segment` fits and ends by `end`, else -1."""
    for index in range(start, end - len(segment) + 1):
        if _fits(text, index, segment):
            return index
    return -1


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple | set) else [value]


def _between(actual: Any, bounds: Any) -> bool:
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        raise RuleError("BETWEEN needs a [low, high] value.")
    return actual is not None and bounds[0] <= actual <= bounds[1]


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(actual: Any, expected: Any) -> bool:
        try:
            return actual is not None and op(actual, expected)
        except TypeError as exc:
            raise RuleError(f"Cannot compare {actual!r} with {expected!r}.") from exc

    return check


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "EQUAL": lambda a, e: a == e,
    "NOT_EQUAL": lambda a, e: a != e,
    "LARGER": _compare(lambda a, e: a > e),
    "SMALLER": _compare(lambda a, e: a < e),
    "LARGER_EQUAL": _compare(lambda a, e: a >= e),
    "SMALLER_EQUAL": _compare(lambda a, e: a <= e),
    "IN": lambda a, e: a in _as_list(e),
    "NOT_IN": lambda a, e: a not in _as_list(e),
    "ALL_IN": lambda a, e: all(item in _as_list(a) for item in _as_list(e)),
    "ANY_IN": lambda a, e: any(item in _as_list(a) for item in _as_list(e)),
    "BETWEEN": _between,
    "NOT_BETWEEN": lambda a, e: not _between(a, e),
    "LIKE": _like,
    "NOT_LIKE": lambda a, e: not _like(a, e),
}


def validate_conditions(node: Any) -> None:
    if not isinstance(node, dict):
        raise RuleError("A condition must be an object.")
    if "conditions" in node or not node:
        if str(node.get("op", "AND")).upper() not in ("AND", "OR"):
            raise RuleError(f"Unknown group operator {node.get('op')!r}: use AND or OR.")
        if not isinstance(node.get("conditions", []), list):
            raise RuleError("A group's conditions must be a list.")
        for child in node.get("conditions", []):
            validate_conditions(child)
        return
    if not node.get("field"):
        raise RuleError("A condition needs a field.")
    if node.get("operator") not in OPERATORS:
        raise RuleError(
            f"Unknown operator {node.get('operator')!r}: use one of {', '.join(OPERATORS)}."
        )


def matches(node: dict[str, Any], values: dict[str, Any]) -> bool:
    validate_conditions(node)
    return _evaluate(node, values)


def _evaluate(node: dict[str, Any], values: dict[str, Any]) -> bool:
    if "conditions" in node or not node:
        results = (_evaluate(child, values) for child in node.get("conditions", []))
        return any(results) if str(node.get("op", "AND")).upper() == "OR" else all(results)
    actual = _lookup(values, node["field"])
    return OPERATORS[node["operator"]](actual, node.get("value"))


def _lookup(values: dict[str, Any], field: str) -> Any:
    if field.startswith("custom_fields."):
        return (values.get("custom_fields") or {}).get(field.removeprefix("custom_fields."))
    return values.get(field)


def record_values(obj: MirrorModel) -> dict[str, Any]:
    """The values rules see: every concrete field (foreign keys by id)."""
    return {f.name: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _active_rules(connection: Connection, object_type: str, kind: str) -> list[Rule]:
    return [
        rule
        for rule in connection.rules.all()
        if rule.active and rule.object_type == object_type and rule.kind == kind
    ]


def passes_filters(connection: Connection, obj: MirrorModel) -> bool:
    values = record_values(obj)
    rules = _active_rules(connection, object_type_of(obj), Rule.Kind.FILTER)
    return all(matches(rule.conditions, values) for rule in rules)


def triggered_actions(
    connection: Connection, obj: MirrorModel, changes: dict[str, list[Any]]
) -> list[Rule]:
    """ACTION rules true now and not true before this change (so each fires once)."""
    if obj.is_deleted:
        return []
    after = record_values(obj)
    before = {**after, **{name: _plain(pair[0]) for name, pair in changes.items()}}
    return [
        rule
        for rule in _active_rules(connection, object_type_of(obj), Rule.Kind.ACTION)
        if matches(rule.conditions, after) and not matches(rule.conditions, before)
    ]


def _plain(value: Any) -> Any:
    return value.pk if isinstance(value, MirrorModel) else value
