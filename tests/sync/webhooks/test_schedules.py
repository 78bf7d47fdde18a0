import pytest
from django_q.models import Schedule

from sync.inbound.schedules import INBOUND_SWEEP_SCHEDULE_NAME, ensure_inbound_schedule

pytestmark = pytest.mark.django_db


def test_the_inbound_sweeper_is_scheduled_once_however_often_migrate_runs(settings):
    settings.SYNC_SWEEP_MINUTES = 2
    ensure_inbound_schedule()
    ensure_inbound_schedule()
    schedule = Schedule.objects.get(name=INBOUND_SWEEP_SCHEDULE_NAME)
    assert (schedule.func, schedule.minutes, schedule.repeats) == (
        "sync.inbound.tasks.sweep_inbound",
        2,
        -1,
    )
