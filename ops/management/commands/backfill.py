"""`backfill N --objects contacts,tasks,notes,appointments,users [--since T] [--dry-run]
[--restart] [--propagate]`: bring a connection's remote records into the mirror (resumable)."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ops.backfill import Backfill, BackfillError, dry_run, iter_summary, parse_objects, start_run
from portal.timeparse import parse_since
from sync.services import find_connection


class Command(BaseCommand):
    help = (
        "Page the remote of connection N into the mirror through the write path. Resumes an "
        "unfinished run of the same options; --restart starts over."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("connection", help="name or slug")
        parser.add_argument(
            "--objects",
            default="contacts",
            help="comma separated, of contacts, tasks, notes, appointments, users "
            "(default: contacts only)",
        )
        parser.add_argument("--since", help="only records updated since (ISO 8601, or 7d / 12h)")
        parser.add_argument("--dry-run", action="store_true", help="write nothing, report")
        parser.add_argument("--restart", action="store_true", help="abandon an unfinished run")
        parser.add_argument(
            "--propagate", action="store_true", help="also queue the records for other connections"
        )

    def handle(self, *args, **options) -> None:
        try:
            connection = find_connection(options["connection"])
            objects = parse_objects(options["objects"])
            since = parse_since(options["since"]) if options["since"] else None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["dry_run"]:
            run, resumed = dry_run(connection, objects, since), False
        else:
            try:
                run, resumed = start_run(
                    connection,
                    objects,
                    since=since,
                    propagate=options["propagate"],
                    restart=options["restart"],
                )
            except BackfillError as exc:
                raise CommandError(str(exc)) from exc
        if resumed:
            self.stdout.write(f"Resuming backfill #{run.pk} after {run.pages} page(s).")
        self._execute(run, dry=options["dry_run"])

    def _execute(self, run, *, dry: bool) -> None:
        bar = tqdm(
            unit=" rec",
            desc="backfill",
            disable=not self.stdout.isatty(),  # no bar in logs, pipes and cron mails
            file=sys.stdout,
            dynamic_ncols=True,
        )

        def progress(records: int, total: int | None) -> None:
            if total and not bar.total:
                bar.total = total
            bar.update(records)

        try:
            Backfill(run, dry_run=dry, progress=progress).execute()
        except BackfillError as exc:
            bar.close()
            raise CommandError(
                f"Backfill stopped: {exc} Run the same command again to resume."
            ) from exc
        bar.close()
        prefix = "Dry run, nothing written; would have: " if dry else "Backfill done: "
        lines = list(iter_summary(run))
        self.stdout.write(prefix + lines[0])
        for line in lines[1:]:
            self.stdout.write(line)
