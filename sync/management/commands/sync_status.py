"""`sync_status [--json]`: pending / in-flight / retrying / dead outbox rows per connection."""

import json

from django.core.management.base import BaseCommand

from sync.status import COLUMNS, outbox_status


class Command(BaseCommand):
    help = "Outbox counts per connection."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, **options) -> None:
        rows = outbox_status()
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write("\t".join(("connection", *COLUMNS, "health")))
        for row in rows:
            self.stdout.write("\t".join(str(row[k]) for k in ("connection", *COLUMNS, "health")))
