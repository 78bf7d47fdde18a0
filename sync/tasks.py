"""django-q2 entry points of the outbox and automations. Work is in the database; the broker
carries wake-ups and ids only. This module depends on the engines, never the other way round:
they enqueue these tasks by name (sync/engine/queue.py)."""

from sync.automations import runner
from sync.engine import push


def push_due() -> dict[str, int]:
    """Woken when rows are released: push them in fair batches (sync/engine/push.py)."""
    return push.push_due()


def sweep() -> dict[str, int]:
    counts = push.sweep()
    steps = runner.sweep()
    return {**counts, **{f"automation_{key}": value for key, value in steps.items()}}


def run_automation_step(step_id: int) -> str:
    return runner.process_step(step_id)
