"""`import_courses N FILE.json`: send a courses export to the CRM (POST …/public/import)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sync.connectors import connector_for
from sync.services import find_connection
from sync.transport.http import RemoteError


class Command(BaseCommand):
    help = "Import courses into the CRM location of a CRM connection from a JSON file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("connection", help="name or slug of a CRM connection")
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options) -> None:
        try:
            connection = find_connection(options["connection"])
            payload = json.loads(options["file"].read_text())
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        if not connection.is_crm or not isinstance(payload, dict):
            raise CommandError("Needs a CRM connection and a JSON object with products.")
        try:
            connector_for(connection).import_courses(payload)
        except RemoteError as exc:
            raise CommandError(f"The CRM refused the import: {exc.message}") from exc
        self.stdout.write(f"Imported courses into {connection.location_id}.")
