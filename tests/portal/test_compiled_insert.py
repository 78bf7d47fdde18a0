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
