"""Many objects through one output serializer, without DRF's per-object field bookkeeping.

DRF's `Serializer.to_representation` walks its readable fields again for every object and reads
each value through the field's generic `get_attribute` (a dotted-source walk, a callable check,
exception handling); on a 100-contact list page that bookkeeping cost more CPU than the fields'
own conversions. `row_converter` decides once per page how each field reads its value — a model
field's attribute or a dict's key — and keeps each field's own `to_representation` and DRF's
None rule, so a row is what `serializer.to_representation` gives (tested against it). A
serializer with a field it cannot read that way keeps DRF's own path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from operator import attrgetter, itemgetter
from typing import Any

from rest_framework import relations, serializers

Row = Callable[[Any], dict]


def row_converter(
    serializer: serializers.Serializer, plain: Collection[str], *, by_key: bool = False
) -> Row:
    """A function giving `serializer.to_representation(obj)` for objects whose `plain` names
    are read as attributes (or, `by_key`, dict keys) with nothing to compute on the way."""
    getter = itemgetter if by_key else attrgetter
    steps = []
    for field in serializer._readable_fields:
        if field.source == "*":  # a method field: given the object itself
            read = _itself
        elif field.source in plain and not _pk_only(field):
            read = getter(field.source)
        else:
            return serializer.to_representation
        if isinstance(field, serializers.DateTimeField) and not hasattr(field, "timezone"):
            # The time zone each value would look up (the request's): looked up once.
            field.timezone = field.default_timezone()
        steps.append((field.field_name, read, field.to_representation))

    def convert(obj: Any) -> dict:
        row = {}
        for name, read, show in steps:
            value = read(obj)
            # DRF's rule: None is shown as None, without asking the field.
            row[name] = None if value is None else show(value)
        return row

    return convert


def model_row_converter(serializer: serializers.ModelSerializer) -> Row:
    """`row_converter` for model instances: the model's concrete fields are plain attributes
    (a relation's is the related object, loaded with the page by select_related)."""
    fields = serializer.Meta.model._meta.concrete_fields
    return row_converter(serializer, {field.name for field in fields})


def _itself(obj: Any) -> Any:
    return obj


def _pk_only(field: serializers.Field) -> bool:
    """A relation DRF reads as a bare primary key (PKOnlyObject): left to DRF."""
    return isinstance(field, relations.RelatedField) and field.use_pk_only_optimization()
