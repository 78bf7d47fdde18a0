"""Fields whose value is plainly valid, which full_clean may skip (the write path's validation).

A backfill validates thousands of new rows a second; each field's `clean` (to_python, validate,
then every validator, each a call) was the larger part of it. For a field of Django's own
`CharField` or `BooleanField`, with no choices and no validators of its own, some values can be
seen to pass at a glance, and `clean` would return them unchanged:

- a `CharField`: a `str` no longer than `max_length`, and not empty unless the field is
  `blank` (its checks: MaxLengthValidator, blank);
- a `BooleanField`: a `bool`.

Every other field and value still goes through full_clean, so errors are Django's own
(tests/contacts/test_plain_fields.py checks both against full_clean).
"""

import functools

from django.db import models


def plainly_valid(instance: models.Model) -> list[str]:
    """Names of the instance's fields that full_clean would pass unchanged (see above)."""
    names = []
    for name, attname, kind, max_length, blank in _plain_fields(type(instance)):
        value = getattr(instance, attname)
        if kind is bool:
            if type(value) is bool:
                names.append(name)
        elif type(value) is str and len(value) <= max_length and (blank or value):
            names.append(name)
    return names


@functools.cache
def _plain_fields(model: type[models.Model]) -> tuple[tuple[str, str, type, int, bool], ...]:
    plain = []
    for field in model._meta.concrete_fields:
        if field.choices or field._validators or field.generated:
            continue
        if type(field) is models.CharField and field.max_length is not None:
            plain.append((field.name, field.attname, str, field.max_length, field.blank))
        elif type(field) is models.BooleanField:
            plain.append((field.name, field.attname, bool, 0, field.blank))
    return tuple(plain)
