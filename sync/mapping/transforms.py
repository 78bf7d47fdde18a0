"""A mapping's value transforms (lower, strip, E.164, value map, date), in either direction."""

import datetime
from typing import Any

from django.core.exceptions import ValidationError

from contacts.normalize import normalize_phone
from sync.mapping.specs import FieldSpec
from sync.models import FieldMapping

Transform = FieldMapping.Transform


class MappingError(ValueError):
    """A mapping or a remote value that cannot be applied (bad argument, unparsable date)."""


def apply_transform(value: Any, spec: FieldSpec, outbound: bool) -> Any:
    if value is None:
        return None
    transform = spec.transform
    if transform == Transform.LOWER:
        return str(value).lower()
    if transform == Transform.STRIP:
        return str(value).strip()
    if transform == Transform.E164:
        try:
            return normalize_phone(str(value))
        except ValidationError as exc:
            raise MappingError(f"{spec.remote_path}: {exc.messages[0]}") from exc
    if transform == Transform.VALUE_MAP:
        return _value_map(value, spec, outbound)
    if transform == Transform.DATE:
        return _format_date(value, spec.argument) if outbound else _parse_date(value, spec)
    return value


def _value_map(value: Any, spec: FieldSpec, outbound: bool) -> Any:
    if not isinstance(spec.argument, dict):
        raise MappingError(f"{spec.remote_path}: a value map needs an object argument.")
    table = spec.argument if outbound else {str(v): k for k, v in spec.argument.items()}
    return table.get(str(value), value)


def _format_date(value: Any, fmt: str | None) -> str:
    if isinstance(value, str):
        return value
    return value.strftime(fmt) if fmt else value.isoformat()


def _parse_date(value: Any, spec: FieldSpec) -> datetime.datetime | datetime.date:
    text = str(value).strip()
    try:
        if spec.argument:
            return datetime.datetime.strptime(text, spec.argument)
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        raise MappingError(f"{spec.remote_path}: {text!r} is not a valid date.") from exc
    return parsed
