"""A row's values as the write path stores them (contacts/services.py): the fields callers may
set, normalised (e-mail, phone, country, tags), derived columns (e-mail keys), validated."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from contacts.email_uniqueness import unique_email_key
from contacts.models import Contact, MirrorModel
from contacts.normalize import email_key, normalize_email, normalize_phone
from contacts.plain_fields import plainly_valid


def writable_fields(model: type[MirrorModel]) -> dict[str, models.Field]:
    """The fields callers may set, by name."""
    return {
        field.name: field
        for field in model._meta.concrete_fields
        if field.editable and field.name not in MirrorModel.SYSTEM_FIELDS
    }


def normalized(model: type[MirrorModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """The writable values of `data`, normalised; a ValidationError names every bad field."""
    fields = writable_fields(model)
    errors = {name: ["Unknown field."] for name in sorted(set(data) - set(fields))}
    values = {name: value for name, value in data.items() if name in fields}
    for name, normalize in (("email", normalize_email), ("phone", normalize_phone)):
        if name in values:
            try:
                values[name] = normalize(values[name])
            except ValidationError as exc:
                errors[name] = exc.messages
    if isinstance(values.get("country"), str):
        values["country"] = values["country"].strip().upper()
    if "tags" in values:
        values["tags"] = _clean_tags(values["tags"], errors)
    for name in ("custom_fields", "permissions"):
        if name in values and not isinstance(values[name] or {}, dict):
            errors[name] = ["Expected an object of key: value pairs."]
    if errors:
        raise ValidationError(errors)
    for name, field in fields.items():
        if name in values and values[name] is None and not field.null:
            values[name] = field.get_default()
    return values


def _clean_tags(tags: Any, errors: dict[str, list[str]]) -> list[str]:
    if not isinstance(tags or [], list) or not all(isinstance(t, str) for t in tags or []):
        errors["tags"] = ["Expected a list of strings."]
        return []
    cleaned = (t.strip() for t in tags or [])
    return list(dict.fromkeys(t for t in cleaned if t))


def derive(instance: MirrorModel) -> None:
    """The columns derived from others (the e-mail keys)."""
    if hasattr(instance, "email_key"):
        instance.email_key = email_key(instance.email)
    if isinstance(instance, Contact):
        instance.unique_email_key = unique_email_key(instance)


def validate(instance: MirrorModel) -> None:
    """Django's field checks (but those a value plainly passes), and every relation set and in
    the row's own workspace."""
    relations = [f.name for f in instance._meta.concrete_fields if f.is_relation]
    instance.full_clean(
        exclude=relations + plainly_valid(instance),  # those full_clean would pass unchanged
        validate_unique=False,
        validate_constraints=False,
    )
    errors: dict[str, list[str]] = {}
    for field in instance._meta.concrete_fields:
        if not field.is_relation or field.name == "workspace":
            continue
        if getattr(instance, field.attname) is None:
            if not field.null:
                errors[field.name] = ["This field is required."]
        elif getattr(instance, field.name).workspace_id != instance.workspace_id:
            errors[field.name] = ["Belongs to another workspace."]
    if errors:
        raise ValidationError(errors)
