"""Every periodic job, created idempotently by `setup_schedules` (also after `migrate`).

sweeper        every SYNC_SWEEP_MINUTES (the engine's, sync.engine.schedules)
poll           every minute: the connections whose poll is due (each its own interval,
               Connection.poll_interval_minutes, default 5), one task each (ops/due.py)
reconcile      every minute: the connections whose reconcile is due (each its own interval,
               Connection.reconcile_interval_hours, default 24); repairs when RECONCILE_REPAIR
prune logs     daily, older than PRUNE_LOGS_DAYS
alert check    every ALERT_CHECK_MINUTES: e-mail the admins about failing connections
"""

from django.conf import settings
from django_q.models import Schedule

from sync.engine.schedules import ensure_schedules as ensure_sweeper
from sync.inbound.schedules import ensure_inbound_schedule

POLL = "ops: poll due connections"
RECONCILE = "ops: reconcile due connections"
FORMER = ("ops: reconcile connections",)  # the daily job over every connection, replaced
PRUNE = "ops: prune logs"
ALERTS = "ops: alert check"


def setup_schedules() -> list[Schedule]:
    """Create or correct every schedule; running it twice changes nothing."""
    Schedule.objects.filter(name__in=FORMER).delete()
    schedules = [
        ensure_sweeper(),
        _upsert(POLL, "ops.tasks.poll_due", Schedule.MINUTES, 1),
        _upsert(RECONCILE, "ops.tasks.reconcile_due", Schedule.MINUTES, 1),
        _upsert(PRUNE, "ops.tasks.prune_logs", Schedule.DAILY),
        _upsert(ALERTS, "ops.tasks.check_alerts", Schedule.MINUTES, settings.ALERT_CHECK_MINUTES),
    ]
    return [*schedules, ensure_inbound_schedule()]


def _upsert(name: str, func: str, schedule_type: str, minutes: int | None = None) -> Schedule:
    schedule, _created = Schedule.objects.update_or_create(
        name=name,
        defaults={"func": func, "schedule_type": schedule_type, "minutes": minutes, "repeats": -1},
    )
    return schedule
