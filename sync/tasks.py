"""django-q2 entry points. Payloads are ids only: the outbox row holds everything else."""

from django.utils import timezone
from django_q.tasks import async_task

from sync.engine.broker import shared_broker
from sync.models import AutomationStep, OutboundChange

PUSH_TASK = "sync.tasks.push_change"
SWEEP_TASK = "sync.tasks.sweep"
STEP_TASK = "sync.tasks.run_automation_step"


def enqueue_push(change_id: int) -> None:
    async_task(
        PUSH_TASK,
        change_id,
        task_name=f"push-{change_id}",
        group="sync-push",
        broker=shared_broker(),
    )
    OutboundChange.objects.filter(pk=change_id).update(enqueued_at=timezone.now())


def push_change(change_id: int) -> str:
    """Push now, or — while the record is still changing — hand the row to this process's
    timer, which enqueues it again once the record is quiet (sync/engine/debounce.py)."""
    from sync.engine.debounce import hold_again, quiet_in
    from sync.engine.push import process_change

    wait = quiet_in(change_id)
    if wait > 0:
        hold_again(change_id, wait)
        return f"held {wait:.2f} s until the record is quiet"
    return process_change(change_id)


def sweep() -> dict[str, int]:
    from sync.automations.runner import sweep as sweep_automations
    from sync.engine.push import sweep as sweep_outbox

    counts = sweep_outbox()
    steps = sweep_automations()
    return {**counts, **{f"automation_{key}": value for key, value in steps.items()}}


def enqueue_automation_step(step_id: int) -> None:
    async_task(
        STEP_TASK,
        step_id,
        task_name=f"automation-step-{step_id}",
        group="sync-automations",
        broker=shared_broker(),
    )
    AutomationStep.objects.filter(pk=step_id).update(enqueued_at=timezone.now())


def run_automation_step(step_id: int) -> str:
    from sync.automations.runner import process_step

    return process_step(step_id)
