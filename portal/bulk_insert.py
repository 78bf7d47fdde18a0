"""Inserting many new rows at once: PostgreSQL's COPY, elsewhere the ORM's bulk_create.

    bulk_insert(model, instances) -> instances     (each saved: its pk set, no longer "adding")

Why: the ORM's bulk_create compiles each value of each row (pre_save, get_db_prep_save, then,
on PostgreSQL, one array per column for UNNEST that psycopg quotes on the client, character by
character). For a backfill page of contacts, their audit entries and links that was the
largest part of the write's CPU. COPY streams the same values in PostgreSQL's text format.

What the ORM does on insert is kept: each field's `pre_save(instance, add=True)` (auto_now,
auto_now_add) and `get_db_prep_save` for every value that is not a plain string, number or
boolean (JSON, dates, decimals, ...), so the rows are the ones bulk_create would write
(tests/portal/test_bulk_insert.py). Ids: rows without one get theirs from the table's own
sequence first (one query), as RETURNING would have given them. Errors are Django's
(IntegrityError, ...), and the COPY runs inside the caller's transaction.

Models with database-side defaults, generated columns or parent tables go through bulk_create.
"""

import datetime
import operator
from collections.abc import Sequence
from typing import TypeVar

from django.db import connections, models, transaction
from django.db.models.fields import NOT_PROVIDED

M = TypeVar("M", bound=models.Model)

# Values of these types are sent as they are by fields of these (Django's own) classes: their
# get_db_prep_save would not change them. A subclass (say, an encrypting field) is always asked.
_PLAIN = (str, int, bool, type(None))
_PLAIN_FIELDS = frozenset(
    {
        models.AutoField,
        models.BigAutoField,
        models.BigIntegerField,
        models.BooleanField,
        models.CharField,
        models.EmailField,
        models.ForeignKey,
        models.IntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.SlugField,
        models.SmallIntegerField,
        models.TextField,
        models.URLField,
    }
)


def uses_copy(model: type[models.Model], using: str = "default") -> bool:
    """Whether bulk_insert writes this model's rows with COPY on this database."""
    return connections[using].vendor == "postgresql" and _copyable(model)


def bulk_insert(model: type[M], instances: Sequence[M], *, using: str = "default") -> list[M]:
    instances = list(instances)
    if not instances:
        return instances
    if not uses_copy(model, using):
        return model.objects.using(using).bulk_create(instances)
    connection = connections[using]
    fields = model._meta.concrete_fields
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        _draw_ids(cursor, model, [i for i in instances if i.pk is None])
        plan = _Plan(fields)
        rows = [plan.row(instance, connection) for instance in instances]
        with connection.wrap_database_errors:
            _copy(cursor.cursor, connection, model, fields, rows)
    for instance in instances:
        instance._state.adding = False
        instance._state.db = using
    return instances


def _copyable(model: type[models.Model]) -> bool:
    if model._meta.parents or model._meta.proxy:
        return False
    return not any(
        field.db_default is not NOT_PROVIDED or field.generated
        for field in model._meta.concrete_fields
    )


def _draw_ids(cursor, model: type[models.Model], instances: list[models.Model]) -> None:
    if not instances:
        return
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        [model._meta.db_table, model._meta.pk.column, len(instances)],
    )
    for instance, (pk,) in zip(instances, cursor.fetchall(), strict=True):
        instance.pk = pk


class _Column:
    """How one field's value is taken from an instance, worked out once per bulk insert."""

    def __init__(self, field: models.Field) -> None:
        self.field = field
        self.attname = field.attname
        # Field.pre_save only reads the attribute; auto_now and the like override it.
        self.reads_attribute = type(field).pre_save is models.Field.pre_save
        self.plain = type(field) in _PLAIN_FIELDS
        self.datetime = type(field) is models.DateTimeField

    def value(self, instance: models.Model, connection) -> object:
        if self.reads_attribute:
            value = getattr(instance, self.attname)
        else:
            value = self.field.pre_save(instance, True)
        if self.plain and type(value) in _PLAIN:
            return value
        if self.datetime and type(value) is datetime.datetime and value.tzinfo is not None:
            return value  # what get_db_prep_save gives an aware datetime on PostgreSQL
        return self.field.get_db_prep_save(value, connection)


class _Plan:
    """The values bulk_create would send for an instance (pre_save, then prepared): the
    attributes read at once, then the columns that need more (auto_now, JSON, dates, ...)."""

    def __init__(self, fields) -> None:
        columns = [_Column(field) for field in fields]
        self.read = operator.attrgetter(*(column.attname for column in columns))
        self.single = len(columns) == 1  # attrgetter of one name gives the value, no tuple
        simple = [column.reads_attribute and column.plain for column in columns]
        self.plain = [(i, c) for i, c in enumerate(columns) if simple[i]]
        self.special = [(i, c) for i, c in enumerate(columns) if not simple[i]]

    def row(self, instance: models.Model, connection) -> list:
        values = self.read(instance)
        row = [values] if self.single else list(values)
        for i, column in self.plain:
            if type(row[i]) not in _PLAIN:
                row[i] = column.field.get_db_prep_save(row[i], connection)
        for i, column in self.special:
            row[i] = column.value(instance, connection)
        return row


def _copy(cursor, connection, model: type[models.Model], fields, rows: list[list]) -> None:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    with cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
