"""portal.compiled_insert: a hot path's INSERT compiled once, writing the rows save() writes."""

import pytest
from django.db.models.sql.compiler import SQLInsertCompiler
from django.forms.models import model_to_dict

from portal.compiled_insert import CompiledInsert
from sync.models import DeliveryAttempt
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def attempt(connection, path: str) -> DeliveryAttempt:
    return DeliveryAttempt(
        connection=connection, method="POST", path=path, status_code=201, outcome="ok",
        duration_ms=12, request_excerpt='{"body": {}}', response_excerpt="{}",
    )  # fmt: skip


def test_rows_are_the_ones_save_writes_and_the_insert_is_compiled_once(monkeypatch):
    compiled = []
    original = SQLInsertCompiler.as_sql

    def counting(self, *args, **kwargs):
        compiled.append(self.query.model)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLInsertCompiler, "as_sql", counting)
    connection = ConnectionFactory()
    insert = CompiledInsert(DeliveryAttempt)
    rows = [attempt(connection, f"/hooks/{n}") for n in range(3)]
    for row in rows:
        insert.save(row)
    saved = attempt(connection, "/hooks/saved")
    saved.save()
    assert all(row.pk and not row._state.adding for row in rows)
    assert compiled.count(DeliveryAttempt) == 2  # once compiled, once save()'s own

    def stored(pk: int) -> dict:
        row = model_to_dict(DeliveryAttempt.objects.get(pk=pk))
        return {k: v for k, v in row.items() if k not in ("id", "path")}

    assert stored(rows[0].pk) == stored(saved.pk)
    assert DeliveryAttempt.objects.get(pk=rows[0].pk).created_at is not None


def test_on_postgresql_the_values_are_bound_by_the_server_not_quoted_into_the_statement():
    """Django's cursors quote every value into the statement's text in Python (psycopg's
    client-side binding); the compiled INSERT sends them as parameters on PostgreSQL."""
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    row = attempt(ConnectionFactory(), "/hooks/bound-by-the-server")
    with CaptureQueriesContext(db) as queries:
        CompiledInsert(DeliveryAttempt).save(row)
    [statement] = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    on_postgresql = db.vendor == "postgresql"
    assert ("$1" in statement) == on_postgresql  # the statement as the server received it
    assert ("/hooks/bound-by-the-server" in statement) == (not on_postgresql)
    assert DeliveryAttempt.objects.get(pk=row.pk).path == "/hooks/bound-by-the-server"
