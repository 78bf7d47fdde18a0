"""`setup_schedules`: create or correct every periodic job (idempotent; also run by migrate)."""

from django.core.management.base import BaseCommand

from ops.schedules import setup_schedules


class Command(BaseCommand):
    help = "Create or correct the sweeper, daily reconcile, daily prune and alert schedules."

    def handle(self, *args, **options) -> None:
        for schedule in setup_schedules():
            every = f"every {schedule.minutes} min" if schedule.minutes else "daily"
            self.stdout.write(f"{schedule.name}: {schedule.func} ({every})")
