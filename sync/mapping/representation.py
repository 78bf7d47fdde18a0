"""The partner-facing representation of a mirror record (outbound webhook payloads).

One place on purpose: when the partner API's output serializers land, `represent` becomes a
call to them so webhooks and the API show partners the same shape. Ids are public ids; the
internal primary key, workspace and derived columns never leave the portal.
"""

from typing import Any

from django.db import models

from contacts.models import MirrorModel
from sync.objects import object_type_of

HIDDEN = frozenset({"id", "workspace", "email_key", "public_id"})


def represent(obj: MirrorModel) -> dict[str, Any]:
    data: dict[str, Any] = {"id": obj.public_id, "object": object_type_of(obj)}
    for field in obj._meta.concrete_fields:
        if field.name in HIDDEN:
            continue
        if isinstance(field, models.ForeignKey):
            related = getattr(obj, field.name)
            data[f"{field.name}_id"] = getattr(related, "public_id", None)
            continue
        data[field.name] = _jsonable(getattr(obj, field.attname))
    return data


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
