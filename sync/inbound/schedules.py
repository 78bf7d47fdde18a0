"""The inbound sweeper schedule, created idempotently after every `migrate` (like the outbox's)."""

from django.conf import settings
from django_q.models import Schedule

INBOUND_SWEEP_SCHEDULE_NAME = "sync: sweep inbound webhooks"
SWEEP_TASK = "sync.inbound.tasks.sweep_inbound"  # by name: the task module imports the engine


def ensure_inbound_schedule() -> Schedule:
    schedule, _created = Schedule.objects.update_or_create(
        name=INBOUND_SWEEP_SCHEDULE_NAME,
        defaults={
            "func": SWEEP_TASK,
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.SYNC_SWEEP_MINUTES,
            "repeats": -1,
        },
    )
    return schedule
