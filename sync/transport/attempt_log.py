"""Where a call's DeliveryAttempt row goes: saved at once, or held for the caller's outcome.

    with attempt_log.held_for_outcome():
        ...calls...                       each call's row is held until the next call starts
        attempt_log.update_with_held(model, rows, where=..., same=...)
                                          the outcome, stored with the last call's row

Why: a push is one call, then its outcome. Saving the call's row on its own was a commit of its
own, and each commit waits for the disk (≈ 1.5 ms here): two per push, one now. On PostgreSQL
the row and the outcome are even one statement (the row's INSERT a WITH clause of the
outcome's UPDATE): one round trip, where a transaction took four (BEGIN, INSERT, UPDATE,
COMMIT), each a wait for another process on a busy machine. At most one row waits at a time,
the last call's, from its answer to the outcome; one still waiting when the block ends (an
error before the outcome) is saved then. What a killed worker can lose is that one row, as it
could before between the answer and the row's INSERT.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import transaction
from django.db.models import Model

from portal.bulk_update import update_rows, update_rows_inserting
from portal.compiled_insert import CompiledInsert
from sync.models import DeliveryAttempt

_INSERT_ATTEMPT = CompiledInsert(DeliveryAttempt)
_held: ContextVar[list[DeliveryAttempt] | None] = ContextVar("held_attempts", default=None)


def record(attempt: DeliveryAttempt) -> None:
    """A call's row: held inside `held_for_outcome`, else saved now."""
    held = _held.get()
    if held is None:
        _INSERT_ATTEMPT.save(attempt)
    else:
        held.append(attempt)


def save_held() -> None:
    """Save the rows held so far (a new call starts: the one before is saved first)."""
    held = _held.get() or []
    while held:
        _INSERT_ATTEMPT.save(held.pop(0))


@contextmanager
def held_for_outcome() -> Iterator[None]:
    token = _held.set([])
    try:
        yield
    finally:
        save_held()
        _held.reset(token)


def update_with_held(model: type[Model], rows: list[dict[str, Any]], **update: Any) -> int:
    """`update_rows(model, rows, **update)` (portal/bulk_update.py) stored together with the
    rows held: in one statement on PostgreSQL, else in one transaction. Rows updated."""
    held = _held.get()
    if not held:
        return update_rows(model, rows, **update)
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        with transaction.atomic():
            save_held()
            return update_rows(model, rows, **update)
    inserts = [_INSERT_ATTEMPT.statement(attempt, connection) for attempt in held]
    updated, ids = update_rows_inserting(model, rows, inserts, **update)
    for attempt, pk in zip(held, ids, strict=True):
        _INSERT_ATTEMPT.inserted(attempt, pk, connection.alias)
    held.clear()
    return updated
