"""`sync_drain [--timeout S]`: push every due outbox row in this process until none is left,
then run every due automation step the same way."""

from django.core.management.base import BaseCommand

from sync.automations.runner import drain as drain_steps
from sync.engine.push import drain


class Command(BaseCommand):
    help = "Process due outbox rows and automation steps here until none is left."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--timeout", type=float, default=None, help="seconds")

    def handle(self, *args, **options) -> None:
        result = drain(options["timeout"])
        self.stdout.write(f"Processed {result['processed']} row(s); {result['left']} due left.")
        steps = drain_steps()
        self.stdout.write(f"Ran {steps['processed']} automation step(s); {steps['left']} due left.")
