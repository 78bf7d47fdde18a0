"""Editors for the mirror's JSON fields in the admin (django-jsonform, served from static files):
tags as a list of rows, custom fields as key → value rows. Bad input is a form error.

Custom-field values are edited as text; a value that was not text (a number, a list) is shown
as JSON and read back as JSON, so editing one field never changes the type of another.
"""

import contextlib
import json
from typing import Any

from django import forms
from django_jsonform.forms.fields import JSONFormField

TAGS_SCHEMA = {"type": "array", "title": "Tags", "items": {"type": "string", "title": "Tag"}}
CUSTOM_FIELDS_SCHEMA = {
    "type": "object",
    "title": "Custom fields",
    "keys": {},  # free keys: django-jsonform wants the (empty) declared ones too
    "additionalProperties": {"type": "string"},
}


class OptionalEditorField(JSONFormField):
    """A JSON editor that may be left empty (django-jsonform checks even an absent value)."""

    def __init__(self, *, schema: dict, **kwargs: Any) -> None:
        super().__init__(schema=schema, required=False, **kwargs)

    def validate(self, value: Any) -> None:
        if value not in self.empty_values:
            super().validate(value)


class TagsField(OptionalEditorField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text", "One tag per row, e.g. vip. Blank rows and repeats are dropped."
        )
        super().__init__(schema=TAGS_SCHEMA, **kwargs)

    def clean(self, value: Any) -> list[str]:
        tags = super().clean(value) or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise forms.ValidationError('Tags are a list of text values, e.g. ["vip"].')
        return list(dict.fromkeys(t.strip() for t in tags if t.strip()))


class CustomFieldsField(OptionalEditorField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "Add a key per field, e.g. loyalty_tier → gold. A field mapping sends a key to the "
            "CRM's custom field (Sync → Field mappings).",
        )
        super().__init__(schema=CUSTOM_FIELDS_SCHEMA, **kwargs)

    def clean(self, value: Any) -> dict[str, Any]:
        fields = super().clean(value) or {}
        if not isinstance(fields, dict):
            raise forms.ValidationError(
                'Custom fields are keys with values, e.g. {"tier": "gold"}.'
            )
        blank = [key for key in fields if not str(key).strip()]
        if blank:
            raise forms.ValidationError("Every custom field needs a key.")
        return fields


def as_text_values(fields: dict[str, Any] | None) -> dict[str, str]:
    """What the editor shows: text as it is, anything else as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in (fields or {}).items()}


def restore_types(edited: dict[str, str], before: dict[str, Any] | None) -> dict[str, Any]:
    """Values that were not text before are read back from their JSON (if still valid)."""
    restored = {}
    for key, value in edited.items():
        previous = (before or {}).get(key)
        restored[key] = value
        if previous is not None and not isinstance(previous, str):
            with contextlib.suppress(TypeError, ValueError):  # now text: the operator typed text
                restored[key] = json.loads(value)
    return restored
