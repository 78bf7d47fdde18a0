"""Updating many rows, each to its own values, in one plain statement.

    update_rows(model, rows, where={...}, same={...}) -> number of rows updated

`rows` are {pk attname: id, attname: value, ...}, all with the same keys; `same` are values
every row takes; `where` are equalities a row must also meet to be updated (a lease token, a
status), so a row someone else moved on is left alone, as `filter(...).update()` would.

Why: the ORM's bulk_update writes a CASE WHEN per field and per row and builds, resolves and
compiles an expression for each of them. For a claimed batch's 50 inbound outcomes that was
about 30 % of a worker's CPU in the full path (`bench/fullpath.py`, sampled). Here the rows'
values travel in a VALUES list the UPDATE joins on the primary key:

    UPDATE t SET status = v.column2, processed_at = %s
    FROM (VALUES (%s, %s), (%s, %s)) AS v
    WHERE t.id = v.column1 AND t.lease_token = %s

(`columnN` is what both databases name a VALUES list's columns; a leading WITH would hide the
row count from Python's sqlite3.)
Values are prepared as the ORM prepares them (each field's get_db_prep_save). On PostgreSQL
the first row's values are cast to their columns' types, which types the whole VALUES list (a
column of NULLs would otherwise be text). SQLite has UPDATE … FROM since 3.33.
"""

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from django.db import connections, models


def update_rows(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    where: Mapping[str, Any] | None = None,
    same: Mapping[str, Any] | None = None,
    using: str = "default",
) -> int:
    if not rows:
        return 0
    connection = connections[using]
    sql, params = _statement(model, rows, dict(where or {}), dict(same or {}), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def update_rows_inserting(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    inserts: Sequence[tuple[str, Sequence[Any]]],
    *,
    where: Mapping[str, Any] | None = None,
    same: Mapping[str, Any] | None = None,
    using: str = "default",
) -> tuple[int, list[int]]:
    """`update_rows`, and the `inserts` (INSERT … RETURNING id statements with their
    parameters) in the same statement: (rows updated, the inserted rows' ids). PostgreSQL only
    (data-modifying WITH clauses): one round trip and, outside a transaction, one commit."""
    connection = connections[using]
    update, update_params = _statement(model, rows, dict(where or {}), dict(same or {}), connection)
    clauses = [f"inserted{n} AS ({sql})" for n, (sql, _params) in enumerate(inserts)]
    clauses.append(f"updated AS ({update} RETURNING 1)")
    ids = [f"(SELECT * FROM inserted{n})" for n in range(len(inserts))]  # noqa: S608 - no values
    sql = f"WITH {', '.join(clauses)} SELECT (SELECT count(*) FROM updated), {', '.join(ids)}"  # noqa: S608
    params = [value for _sql, values in inserts for value in values] + update_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        updated, *inserted = cursor.fetchone()
    return updated, inserted


def _statement(model, rows, where: dict, same: dict, connection) -> tuple[str, list]:
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk
    varying = [pk, *(_field(model, name) for name in rows[0] if name != pk.attname)]
    values, values_params = _values(varying, rows, connection)
    assignments = [f"{quote(f.column)} = v.column{n + 1}" for n, f in enumerate(varying) if n]
    assignments += [f"{quote(_field(model, name).column)} = %s" for name in same]
    # The ids again as a list: joined only to the VALUES, PostgreSQL planned the UPDATE as a
    # scan of every row meeting `where` (a whole backlog of received events), not by the key.
    ids = [row[pk.attname] for row in rows]
    conditions = [f"{table}.{quote(pk.column)} = v.column1"]
    conditions += [f"{table}.{quote(pk.column)} IN ({', '.join(['%s'] * len(ids))})"]
    conditions += [f"{table}.{quote(_field(model, name).column)} = %s" for name in where]
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608 - names quoted, values bound
        f"FROM (VALUES {values}) AS v WHERE {' AND '.join(conditions)}"
    )
    params = _prepared(model, same, connection) + values_params + ids
    return sql, params + _prepared(model, where, connection)


def _field(model: type[models.Model], attname: str) -> models.Field:
    field = _fields_by_attname(model).get(attname)
    if field is None:
        raise TypeError(f"{model.__name__} has no field {attname}")
    return field


@cache
def _fields_by_attname(model: type[models.Model]) -> dict[str, models.Field]:
    return {field.attname: field for field in model._meta.concrete_fields}


def _values(fields: list[models.Field], rows: Sequence[Mapping[str, Any]], connection):
    """The VALUES list's SQL and its parameters, row by row."""
    cast = connection.vendor == "postgresql"
    first = ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" if cast else "%s" for f in fields)
    others = ", ".join(["%s"] * len(fields))
    sql = ", ".join([f"({first})"] + [f"({others})"] * (len(rows) - 1))
    names = [field.attname for field in fields]
    if any(set(row) != set(names) for row in rows):
        raise TypeError("update_rows: every row must give the same fields")
    params = [
        field.get_db_prep_save(row[field.attname], connection) for row in rows for field in fields
    ]
    return sql, params


def _prepared(model: type[models.Model], values: Mapping[str, Any], connection) -> list:
    return [_field(model, name).get_db_prep_save(v, connection) for name, v in values.items()]
