"""One model's INSERT compiled once per database, for rows written on a hot path."""

from django.db import models, transaction
from django.db.models import signals
from django.db.models.sql import InsertQuery


class CompiledInsert:
    """`instance.save(force_insert=True)` with its INSERT compiled once per database.

    Rows inserted on a hot path (every delivery's event, every call's attempt) have the same
    columns, yet save() builds the same statement again each time (a third of the intake's own
    CPU in the profile). The ORM's compiler builds it once here; each row then only has its
    values prepared as the compiler prepares them (each field's pre_save, then
    get_db_prep_save) and, like save(), sends pre_save and post_save (the automations listen
    to it). A database that cannot return the new id from the INSERT itself gets save().
    Relies on the ORM's InsertQuery and compiler: look again when upgrading Django.
    """

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.fields = [f for f in model._meta.local_concrete_fields if not f.primary_key]
        self.statements: dict[str, str] = {}  # per database alias

    def save(self, instance: models.Model) -> None:
        connection = transaction.get_connection()
        if not connection.features.can_return_columns_from_insert:
            instance.save(force_insert=True)
            return
        sql = self.statements.get(connection.alias) or self._compile(connection)
        using = connection.alias
        signals.pre_save.send(
            sender=self.model, instance=instance, raw=False, using=using, update_fields=None
        )
        params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            instance.pk = cursor.fetchone()[0]
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
