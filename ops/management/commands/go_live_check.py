"""`go_live_check N [--confirm]`: push a marked test record of every enabled type to connection
N, read it back, compare it through the mappings, delete it; report each step (ops/golive.py)."""

from django.core.management.base import BaseCommand, CommandError

from ops.golive import CannotCleanUp, go_live_check
from portal.actors import Actor
from sync.services import find_connection


class Command(BaseCommand):
    help = (
        "Check a connection end to end with test records (created, pushed, read back, "
        "compared field by field, deleted). Fails (exit 1) when a step fails."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("connection", help="name or slug")
        parser.add_argument(
            "--confirm",
            action="store_true",
            help="run even where the connector cannot delete its test records afterwards",
        )

    def handle(self, *args, **options) -> None:
        try:
            connection = find_connection(options["connection"])
            report = go_live_check(
                connection,
                actor=Actor.system("go_live_check", source="command"),
                confirmed=options["confirm"],
            )
        except (ValueError, CannotCleanUp) as exc:
            raise CommandError(str(exc)) from exc
        for step in report.steps:
            self.stdout.write(f"{step.object_type:<12} {step.name:<20} {step.outcome:<8} "
                              f"{step.detail}")  # fmt: skip
        if not report.ok:
            raise CommandError(f"The go-live check of {connection.name} failed (see above).")
        self.stdout.write(self.style.SUCCESS(f"{connection.name} passed the go-live check."))
