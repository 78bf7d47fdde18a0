"""Fields whose value is plainly valid, which full_clean may skip (the write path's validation).

A backfill validates thousands of new rows a second; each field's `clean` (to_python, validate,
then every validator, each a call) was the larger part of it. For a field of Django's own
`CharField`, `EmailField` or `BooleanField`, with no choices and no validators of its own,
some values can be seen to pass at a glance, and `clean` would return them unchanged:

- a `CharField`: a `str` no longer than `max_length`, and not empty unless the field is
  `blank` (its checks: MaxLengthValidator, blank);
- a `BooleanField`: a `bool`;
- an `EmailField`: as a `CharField`, and one normalize_email has just returned (it passed
  Django's validate_email as it is: contacts.normalize.is_valid_normalized_email), or empty.

Every other field and value still goes through full_clean, so errors are Django's own
(tests/contacts/test_plain_fields.py checks both against full_clean).
"""

import functools

from django.db import models

from contacts.normalize import is_valid_normalized_email

_EMAIL = "email"  # the kind of an EmailField in _plain_fields


def plainly_valid(instance: models.Model) -> list[str]:
    """Names of the instance's fields that full_clean would pass unchanged (see above)."""
    names = []
    for name, attname, kind, max_length, blank in _plain_fields(type(instance)):
        value = getattr(instance, attname)
        if kind is bool:
            if type(value) is bool:
                names.append(name)
        elif type(value) is str and len(value) <= max_length and (blank or value):
            if kind is _EMAIL and value and not is_valid_normalized_email(value):
                continue  # a check of its own: validate_email
            names.append(name)
    return names


@functools.cache
def _plain_fields(model: type[models.Model]) -> tuple[tuple[str, str, object, int, bool], ...]:
    plain = []
    for field in model._meta.concrete_fields:
        if field.choices or field._validators or field.generated:
            continue
        if type(field) is models.CharField and field.max_length is not None:
            plain.append((field.name, field.attname, str, field.max_length, field.blank))
        elif type(field) is models.EmailField and field.max_length is not None:
            plain.append((field.name, field.attname, _EMAIL, field.max_length, field.blank))
        elif type(field) is models.BooleanField:
            plain.append((field.name, field.attname, bool, 0, field.blank))
    return tuple(plain)
