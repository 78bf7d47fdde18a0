"""`connections add <provider> …`, `connections list`, `connections test N`."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.actors import Actor
from sync.connectors import CONNECTORS, connector_class
from sync.connectors.checks import test_connection
from sync.models import Connection
from sync.services import connection_add, find_connection


class Command(BaseCommand):
    help = "Manage connections to remote systems."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Add a connection.")
        providers = add.add_subparsers(dest="provider", required=True)
        for provider, (label, _path) in CONNECTORS.items():
            provider_parser = providers.add_parser(provider, help=label)
            provider_parser.add_argument("--name", required=True)
            provider_parser.add_argument("--dry-run", action="store_true")
            connector_class(provider).add_command_arguments(provider_parser)
        sub.add_parser("list", help="List connections.")
        test = sub.add_parser("test", help="Test a connection with a cheap read.")
        test.add_argument("connection", help="name or slug")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(options)

    def _add(self, options: dict) -> None:
        try:
            connection, note = connection_add(
                options["provider"], options, actor=Actor.system("connections add")
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Added connection {connection.slug} ({connection.provider}) "
            f"to workspace {connection.workspace.slug}."
        )
        if note:
            self.stdout.write(note)

    def _list(self, options: dict) -> None:
        for c in self._all():
            state = "active" if c.active else "inactive"
            dry_run = " dry-run" if c.dry_run else ""
            self.stdout.write(
                f"{c.slug}\t{c.provider}\t{c.workspace.slug}\t{state}{dry_run}\t{c.health}\t{c.name}"
            )

    def _all(self):
        return Connection.objects.live().select_related("workspace").order_by("slug")

    def _test(self, options: dict) -> None:
        try:
            connection = find_connection(options["connection"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        result = test_connection(connection)
        if not result.ok:
            raise CommandError(f"{connection.slug}: {result.message}")
        self.stdout.write(f"{connection.slug}: OK — {result.message}")
