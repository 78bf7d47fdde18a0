"""`prune_logs --older-than 90d [--include-audit]`: delete old logs (see ops/prune.py)."""

from django.core.management.base import BaseCommand, CommandError

from ops.prune import prune
from portal.timeparse import parse_duration


class Command(BaseCommand):
    help = (
        "Delete delivery attempts, finished outbox rows and backfill runs, and processed "
        "inbound events older than the given age. Audit entries only with --include-audit."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", required=True, help="e.g. 90d, 12h")
        parser.add_argument("--include-audit", action="store_true")

    def handle(self, *args, **options) -> None:
        try:
            age = parse_duration(options["older_than"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for label, count in prune(age, include_audit=options["include_audit"]).items():
            self.stdout.write(f"{label}: {count} deleted")
