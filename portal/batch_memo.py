"""Reading configuration once per batch of work, not once per record.

A worker applying a batch of inbound events or pushing a batch of outbox rows asks the same
questions for every record: a connection's field mappings, which connections a change fans out
to (with their filter rules), the workspace's live automations. Inside `batch_scope()` the first
answer to each question is kept and reused until the batch ends; outside one (a request, the
admin, a management command, a test) every call computes afresh, as before.

A scope is one claimed batch (at most SYNC_BATCH_SIZE rows, seconds at most), so a
configuration change an operator saves while a batch runs applies from the next batch on.
Only configuration is memoised, never a mirror record: the records are always read fresh.

    with batch_scope():
        ...
        plan = memoized(("mapping_plan", connection.pk, object_type), lambda: compute())
"""

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_answers: ContextVar[dict[Hashable, Any] | None] = ContextVar("batch_memo", default=None)


@contextmanager
def batch_scope() -> Iterator[None]:
    """Memoise within this block (this thread or task only); nested blocks share the outer's."""
    if _answers.get() is not None:
        yield
        return
    token = _answers.set({})
    try:
        yield
    finally:
        _answers.reset(token)


def memoized(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or inside a batch scope the answer it gave for `key` earlier in the batch."""
    answers = _answers.get()
    if answers is None:
        return compute()
    if key not in answers:
        answers[key] = compute()
    return answers[key]
