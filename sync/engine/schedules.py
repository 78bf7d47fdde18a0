"""The periodic sweeper, created idempotently after every `migrate`."""

from django.conf import settings
from django_q.models import Schedule

SWEEP_SCHEDULE_NAME = "sync: sweep outbox"


def ensure_schedules() -> Schedule:
    """Create or correct the sweeper schedule (safe to run any number of times)."""
    schedule, _created = Schedule.objects.update_or_create(
        name=SWEEP_SCHEDULE_NAME,
        defaults={
            "func": "sync.tasks.sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.SYNC_SWEEP_MINUTES,
            "repeats": -1,
        },
    )
    return schedule
