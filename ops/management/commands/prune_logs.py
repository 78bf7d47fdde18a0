"""`prune_logs --older-than 90d [--include-audit] [--tombstones-older-than 365d]`: delete old
logs and old tombstones (see ops/prune.py)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ops.prune import prune, prune_tombstones
from portal.timeparse import parse_duration


class Command(BaseCommand):
    help = (
        "Delete delivery attempts, finished outbox rows and backfill runs, and processed "
        "inbound events older than the given age. Audit entries only with --include-audit. "
        "Tombstones (deleted records) older than --tombstones-older-than "
        "(default TOMBSTONE_RETENTION_DAYS) are deleted too."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--older-than", required=True, help="e.g. 90d, 12h")
        parser.add_argument("--include-audit", action="store_true")
        parser.add_argument(
            "--tombstones-older-than", default=f"{settings.TOMBSTONE_RETENTION_DAYS}d"
        )

    def handle(self, *args, **options) -> None:
        try:
            age = parse_duration(options["older_than"])
            tombstone_age = parse_duration(options["tombstones_older_than"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        counts = prune(age, include_audit=options["include_audit"])
        for label, count in {**counts, **prune_tombstones(tombstone_age)}.items():
            self.stdout.write(f"{label}: {count} deleted")
