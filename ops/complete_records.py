"""Mapping a complete listed record (a listing, not a partial webhook): every mapped field the
remote left out is empty, so a value cleared remotely is cleared here too.

    CompleteRecords(connection, object_type).values(item, instance=None) -> mirror values
    full_values(item, object_type, connection, instance=None)  (the same, for one record)
"""

from typing import Any

from django.db import models

from contacts.models import MirrorModel
from sync.mapping.mapper import from_remote, mappings_for
from sync.mapping.specs import REFERENCE, FieldSpec
from sync.models import Connection, FieldMapping
from sync.objects import mirror_model


def full_values(
    item: dict[str, Any],
    object_type: str,
    connection: Connection,
    instance: MirrorModel | None = None,
) -> dict[str, Any]:
    """`from_remote` for a complete record (a listing, not a partial webhook): every mapped
    field the remote left out is empty, so a value cleared remotely is cleared here too."""
    return CompleteRecords(connection, object_type).values(item, instance)


class CompleteRecords:
    """full_values for many records of one type: the mapping is merged once (per page), not
    once per record."""

    def __init__(self, connection: Connection, object_type: str) -> None:
        self.connection = connection
        self.object_type = object_type
        self.specs = [spec for spec in mappings_for(connection, object_type) if _reads(spec)]
        self.references = [spec for spec in self.specs if spec.transform == REFERENCE]
        model = mirror_model(object_type)
        self.listed = [(name, model._meta.get_field(name)) for name in _listed(self.specs)]

    def values(self, item: dict[str, Any], instance: MirrorModel | None = None) -> dict[str, Any]:
        values = from_remote(item, self.object_type, self.connection, instance, specs=self.specs)
        for name, field_ in self.listed:
            if name not in values:
                values[name] = _empty(field_)
        return values


def _reads(spec: FieldSpec) -> bool:
    """Whether from_remote reads this mapping (constants are outbound only)."""
    return spec.inbound and spec.transform != FieldMapping.Transform.CONSTANT


def _listed(specs: list[FieldSpec]) -> list[str]:
    """The plain mirror fields the inbound mappings set (each once, in mapping order)."""
    names: dict[str, None] = {}
    for spec in specs:
        for name in spec.mirror_field.split(","):
            name = name.strip()
            if name and "." not in name and name != "custom_fields":
                names[name] = None
    return list(names)


def _empty(field_: models.Field) -> Any:
    if field_.null:
        return None
    return field_.get_default()
