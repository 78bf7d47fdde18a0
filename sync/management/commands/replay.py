"""`replay [--connection N] [--status dead] [--since T]`: re-queue failed work."""

from django.core.management.base import BaseCommand, CommandError

from portal.timeparse import parse_since
from sync.engine.push import replay
from sync.models import REPLAYABLE, OutboundChange
from sync.services import find_connection


class Command(BaseCommand):
    help = "Put failed or dead outbox rows back in the queue."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--connection", help="name or slug")
        parser.add_argument("--status", choices=list(REPLAYABLE), help="default: failed and dead")
        parser.add_argument(
            "--since", help="rows changed since: ISO 8601, or back from now like 7d / 12h / 30m"
        )

    def handle(self, *args, **options) -> None:
        rows = OutboundChange.objects.filter(
            status__in=[options["status"]] if options["status"] else REPLAYABLE
        )
        if options["connection"]:
            try:
                rows = rows.filter(connection=find_connection(options["connection"]))
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        if options["since"]:
            try:
                since = parse_since(options["since"])
            except ValueError as exc:
                raise CommandError(f"--since: {exc}") from exc
            rows = rows.filter(updated_at__gte=since)
        self.stdout.write(f"Re-queued {replay(rows)} row(s).")
