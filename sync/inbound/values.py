"""Mapped values compared as the write path would store them.

A remote's `+1 555 010 0000` and the mirror's `+15550100000` are the same phone; a related
record and its primary key are the same reference. Comparisons (echo, merge, "unchanged" in a
backfill, drift in a reconcile) and the per-link snapshot all use this one canonical form.
"""

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from contacts.models import MirrorModel
from contacts.normalize import normalize_email, normalize_phone


def comparable_values(model: type[MirrorModel], values: dict[str, Any]) -> dict[str, Any]:
    """Values as the write path would store them (e-mail, phone normalised; ids for relations)."""
    out = {}
    for name, value in values.items():
        if name == "email":
            value = _try(normalize_email, value)
        elif name == "phone":
            value = _try(normalize_phone, value)
        out[name] = canonical(value)
    return out


def mirror_values(instance: MirrorModel, names: Iterable[str]) -> dict[str, Any]:
    return {name: canonical(_field_value(instance, name)) for name in names}


def differs(instance: MirrorModel, values: dict[str, Any]) -> bool:
    incoming = comparable_values(type(instance), values)
    return incoming != mirror_values(instance, list(incoming))


# Values canonical() returns as they are; checked first by exact type (a backfill asks about
# every field of every row it creates, for the link's snapshot).
_AS_IS = frozenset({str, int, bool, float, list, dict})


def canonical(value: Any) -> Any:
    """A JSON-safe form in which equal stored values compare equal."""
    if type(value) in _AS_IS:
        return value
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if value is None:
        return ""
    return value


def _field_value(instance: MirrorModel, name: str) -> Any:
    field_ = instance._meta.get_field(name)
    return getattr(instance, field_.attname)


def _try(normalize, value: Any) -> Any:
    try:
        return normalize(value)
    except ValidationError:
        return value
