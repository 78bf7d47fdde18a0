"""One model's INSERT compiled once per database, for rows written on a hot path."""

from django.db import models, transaction
from django.db.models import signals
from django.db.models.sql import InsertQuery

from portal.bulk_insert import RowPlan


class CompiledInsert:
    """`instance.save(force_insert=True)` with its INSERT compiled once per database.

    Rows inserted on a hot path (every delivery's event, every call's attempt) have the same
    columns, yet save() builds the same statement again each time (a third of the intake's own
    CPU in the profile). The ORM's compiler builds it once here; each row then only has its
    values prepared as the compiler prepares them (each field's pre_save, then
    get_db_prep_save, skipped where it would not change the value: portal/bulk_insert.py's
    RowPlan) and, like save(), sends pre_save and post_save (the automations listen to it).
    On PostgreSQL the values travel as the statement's parameters (server-side binding)
    instead of being quoted into its text by psycopg in Python, as Django's cursors do: the
    statement never changes, only its values, and quoting a row's twenty values was a fifth
    of the insert's CPU. A database that cannot return the new id from the INSERT itself gets
    save(). Relies on the ORM's InsertQuery and compiler: look again when upgrading Django.
    """

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
        self.plan = RowPlan(self.fields)
        self.statements: dict[str, str] = {}  # per database alias

    def save(self, instance: models.Model) -> None:
        connection = transaction.get_connection()
        if not connection.features.can_return_columns_from_insert:
            instance.save(force_insert=True)
            return
        sql, params = self.statement(instance, connection)
        with _bound_cursor(connection) as cursor:
            cursor.execute(sql, params)
            self.inserted(instance, cursor.fetchone()[0], connection.alias)

    def statement(self, instance: models.Model, connection) -> tuple[str, list]:
        """The INSERT … RETURNING id of `instance` and its parameters (pre_save sent), for a
        caller that sends it itself, e.g. inside a larger statement; then call `inserted`."""
        sql = self.statements.get(connection.alias) or self._compile(connection)
        signals.pre_save.send(
            sender=self.model, instance=instance, raw=False, using=connection.alias,
            update_fields=None,
        )  # fmt: skip
        return sql, self.plan.row(instance, connection)

    def inserted(self, instance: models.Model, pk: int, using: str) -> None:
        """`instance` was stored with the key `pk`: it is saved (post_save sent)."""
        instance.pk = pk
        instance._state.adding, instance._state.db = False, using
        signals.post_save.send(
            sender=self.model, instance=instance, created=True, update_fields=None, raw=False,
            using=using,
        )  # fmt: skip

    def _compile(self, connection) -> str:
        query = InsertQuery(self.model)
        query.insert_values(self.fields, [self.model()])
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = [self.model._meta.pk]
        [(sql, _params)] = compiler.as_sql()
        self.statements[connection.alias] = sql
        return sql


def _bound_cursor(connection):
    """A cursor whose parameters the server binds (PostgreSQL with psycopg 3), wrapped as
    connection.cursor() wraps its own (errors translated, queries logged, execute wrappers);
    elsewhere connection.cursor() itself."""
    if not _binds_on_server(connection):
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(ServerBindingCursor(connection.connection))


def _binds_on_server(connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3
