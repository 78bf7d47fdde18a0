"""`reconcile N [--repair] [--sample P] [--objects ...] [--json]`: drift between mirror and
remote; `--repair` queues the fixes through the write path and the outbox."""

import json

from django.core.management.base import BaseCommand, CommandError

from ops.backfill_runs import parse_objects
from ops.reconcile import CATEGORIES, Reconciler
from sync.services import find_connection
from sync.transport.http import RemoteError

LABELS = {
    "missing_local": "missing in the portal",
    "different": "different",
    "deleted_remote": "deleted on the remote, live here",
    "never_pushed": "never pushed to the remote",
    "deleted_local": "deleted here, still on the remote",
    "orphan_links": "orphan links",
}


class Command(BaseCommand):
    help = "Compare connection N's remote records with the mirror; --repair queues the fixes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("connection", help="name or slug")
        parser.add_argument("--repair", action="store_true")
        parser.add_argument(
            "--sample",
            type=float,
            default=100.0,
            help="percent of records whose content (and tasks/notes/appointments) is compared",
        )
        parser.add_argument("--objects", default="users,contacts", help="comma separated")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options) -> None:
        try:
            connection = find_connection(options["connection"])
            objects = parse_objects(options["objects"])
            reconciler = Reconciler(connection, repair=options["repair"], sample=options["sample"])
            report = reconciler.run(objects)
        except (ValueError, RemoteError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        self.stdout.write(f"Checked {report.checked} remote record(s); drift: {report.drift}.")
        for category in CATEGORIES:
            if report.counts[category]:
                examples = ", ".join(report.examples[category][:5])
                self.stdout.write(f"  {LABELS[category]}: {report.counts[category]} ({examples})")
        if options["repair"]:
            self.stdout.write(f"Repaired or queued: {report.repaired}.")
            for error in report.repair_errors:
                self.stdout.write(f"  repair failed: {error}")
