"""Inserting many new rows at once: PostgreSQL's COPY, elsewhere the ORM's bulk_create.

    bulk_insert(model, instances) -> instances     (each saved: its pk set, no longer "adding")
    bulk_insert(model, instances, numbered=False)  (a log's rows: numbered by the table)
    insert_rows(model, rows)                        (rows as {attname: value}: no instances)

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

`insert_rows` takes each row as its values and, on PostgreSQL, builds no model instance at all:
a backfill page's audit entries and links are thousands of rows nobody reads back, and building
their instances (Model.__init__, then reading each attribute back) was ≈ 10 % of the page's CPU.
A field a row leaves out takes its default, an auto_now / auto_now_add field the time of the
insert, as the instance would have had; rows without an id are numbered by the table's own
default (no ids drawn first: nobody reads them back). Elsewhere the rows become instances for
bulk_create.
"""

import datetime
import operator
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from django.db import connections, models, transaction
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone

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


def bulk_insert(
    model: type[M], instances: Sequence[M], *, using: str = "default", numbered: bool = True
) -> list[M]:
    """`numbered=False`: for rows nobody reads back (a log), when none has an id: with COPY,
    the table's own default numbers them and their instances keep no id (one query less)."""
    instances = list(instances)
    if not instances:
        return instances
    if not uses_copy(model, using):
        return model.objects.using(using).bulk_create(instances)
    connection = connections[using]
    fields = model._meta.concrete_fields
    unnumbered = [instance for instance in instances if instance.pk is None]
    if not numbered and len(unnumbered) == len(instances):
        fields, unnumbered = [field for field in fields if not field.primary_key], []
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        _draw_ids(cursor, model, unnumbered)
        plan = RowPlan(fields)
        rows = [plan.row(instance, connection) for instance in instances]
        with connection.wrap_database_errors:
            _copy(cursor.cursor, connection, model, fields, rows)
    for instance in instances:
        instance._state.adding = instance.pk is None
        instance._state.db = using
    return instances


def insert_rows(
    model: type[models.Model], rows: Sequence[Mapping[str, Any]], *, using: str = "default"
) -> None:
    """bulk_insert for rows given as {field attname: value} (`workspace_id`, not `workspace`)."""
    if not rows:
        return
    fields = model._meta.concrete_fields
    unknown = set().union(*rows) - {field.attname for field in fields}
    if unknown:
        raise TypeError(f"{model.__name__} has no field(s) {', '.join(sorted(unknown))}")
    if not uses_copy(model, using) or not all(_by_value(field) for field in fields):
        bulk_insert(model, [model(**row) for row in rows], using=using)
        return
    connection = connections[using]
    pk = model._meta.pk
    missing = sum(1 for row in rows if row.get(pk.attname) is None)
    if missing == len(rows):
        fields = [field for field in fields if field is not pk]  # numbered by the table
        missing = 0
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        ids = iter(_next_ids(cursor, model, missing))
        columns = [_ValueColumn(field, timezone.now()) for field in fields]
        values = [[column.value(row, ids, connection) for column in columns] for row in rows]
        with connection.wrap_database_errors:
            _copy(cursor.cursor, connection, model, fields, values)


def _by_value(field: models.Field) -> bool:
    """Whether insert_rows can take this field's value without an instance: its pre_save only
    reads the attribute, or sets the time (auto_now, auto_now_add)."""
    return type(field).pre_save is models.Field.pre_save or type(field) is models.DateTimeField


def _stamped(field: models.Field) -> bool:
    return type(field) is models.DateTimeField and (field.auto_now or field.auto_now_add)


def _copyable(model: type[models.Model]) -> bool:
    if model._meta.parents or model._meta.proxy:
        return False
    return not any(
        field.db_default is not NOT_PROVIDED or field.generated
        for field in model._meta.concrete_fields
    )


def _draw_ids(cursor, model: type[models.Model], instances: list[models.Model]) -> None:
    for instance, pk in zip(instances, _next_ids(cursor, model, len(instances)), strict=True):
        instance.pk = pk


def _next_ids(cursor, model: type[models.Model], count: int) -> list[int]:
    if not count:
        return []
    cursor.execute(
        "SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
        [_sequence(cursor, model._meta.db_table, model._meta.pk.column), count],
    )
    return [pk for (pk,) in cursor.fetchall()]


_SEQUENCES: dict[tuple[str, str, str], str] = {}


def _sequence(cursor, table: str, column: str) -> str:
    """The column's sequence, looked up once per database and table: in the SELECT above,
    pg_get_serial_sequence was evaluated again for every id (most of the statement's time)."""
    key = (cursor.db.settings_dict["NAME"], table, column)
    if key not in _SEQUENCES:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        _SEQUENCES[key] = cursor.fetchone()[0]
    return _SEQUENCES[key]


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


class _ValueColumn:
    """One field's value in insert_rows: the row's, else what a new instance would hold (its
    pre_save's time, or the field's default), prepared as _Column prepares it."""

    def __init__(self, field: models.Field, now: datetime.datetime) -> None:
        self.field = field
        self.attname = field.attname
        self.primary_key = field.primary_key
        self.stamped = _stamped(field)
        self.now = now
        self.plain = type(field) in _PLAIN_FIELDS
        self.datetime = type(field) is models.DateTimeField

    def value(self, row: Mapping[str, Any], ids, connection) -> object:
        if self.stamped:
            value = self.now
        elif self.attname in row:
            value = row[self.attname]
        else:
            value = self.field.get_default()
        if self.primary_key and value is None:
            return next(ids)
        if self.plain and type(value) in _PLAIN:
            return value
        if self.datetime and type(value) is datetime.datetime and value.tzinfo is not None:
            return value
        return self.field.get_db_prep_save(value, connection)


class RowPlan:
    """The values bulk_create would send for an instance (pre_save, then prepared): the
    attributes read at once, then the columns that need more (auto_now, JSON, dates, ...).
    Also portal/compiled_insert.py's, for one row at a time."""

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
