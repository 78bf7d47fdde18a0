"""`sync_drain [--timeout S]`: push every due outbox row in this process until none is left."""

from django.core.management.base import BaseCommand

from sync.push import drain


class Command(BaseCommand):
    help = "Process due outbox rows here until none is left (or the timeout passes)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--timeout", type=float, default=None, help="seconds")

    def handle(self, *args, **options) -> None:
        result = drain(options["timeout"])
        self.stdout.write(f"Processed {result['processed']} row(s); {result['left']} due left.")
