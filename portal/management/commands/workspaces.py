"""`workspaces add --name N --location-id L` and `workspaces list`."""

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from portal.actors import Actor
from portal.audit import record_change
from portal.models import AuditAction, Workspace


class Command(BaseCommand):
    help = "Manage workspaces: one per CRM location (sub-account)."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Add a workspace for a CRM location.")
        add.add_argument("--name", required=True)
        add.add_argument("--location-id", required=True)
        sub.add_parser("list", help="List workspaces.")

    def handle(self, *args, action: str, **options) -> None:
        if action == "add":
            self._add(options["name"], options["location_id"])
        else:
            self._list()

    def _add(self, name: str, location_id: str) -> None:
        try:
            with transaction.atomic():
                workspace = Workspace.objects.create(name=name, location_id=location_id)
                record_change(
                    actor=Actor.system("workspaces add"),
                    action=AuditAction.CREATE,
                    instance=workspace,
                    changes={"name": [None, name], "location_id": [None, location_id]},
                )
        except IntegrityError as exc:
            raise CommandError(
                f"A workspace with location id {location_id!r} or that name's slug exists."
            ) from exc
        self.stdout.write(f"Added workspace {workspace.slug} (location {location_id}).")

    def _list(self) -> None:
        for workspace in Workspace.objects.order_by("name"):
            self.stdout.write(f"{workspace.slug}\t{workspace.location_id}\t{workspace.name}")
