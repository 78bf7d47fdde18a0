"""django-q2 entry points. Payloads are ids only: the outbox row holds everything else."""

from django.utils import timezone
from django_q.tasks import async_task

from sync.broker import shared_broker
from sync.models import OutboundChange

PUSH_TASK = "sync.tasks.push_change"
SWEEP_TASK = "sync.tasks.sweep"


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
    timer, which enqueues it again once the record is quiet (sync/debounce.py)."""
    from sync.debounce import hold_again, quiet_in
    from sync.push import process_change

    wait = quiet_in(change_id)
    if wait > 0:
        hold_again(change_id, wait)
        return f"held {wait:.2f} s until the record is quiet"
    return process_change(change_id)


def sweep() -> dict[str, int]:
    from sync.push import sweep as sweep_outbox

    return sweep_outbox()
