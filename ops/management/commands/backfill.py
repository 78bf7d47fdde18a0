"""`backfill N [M …] --objects contacts,tasks,notes,appointments,users [--since T]
[--business ID] [--dry-run] [--restart] [--propagate] [--queue]`, `backfill --all …`: bring
connections' remote records into the mirror (resumable). `--queue` (implied by `--all`) runs
one task per connection on the worker cluster, so connections are backfilled in parallel."""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from ops import tasks
from ops.backfill import Backfill
from ops.backfill_runs import (
    BackfillError,
    OtherOptions,
    check_business_objects,
    check_listable,
    dry_run,
    iter_summary,
    parse_objects,
    start_run,
    unfinished_run,
)
from portal.timeparse import parse_since
from sync.services import find_connection


class Command(BaseCommand):
    help = (
        "Page the remote of connection N into the mirror through the write path. Resumes an "
        "unfinished run of the same options; --restart starts over."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("connection", nargs="*", help="name or slug (one or more)")
        parser.add_argument(
            "--all", action="store_true", help="every active connection that can list (queued)"
        )
        parser.add_argument(
            "--queue", action="store_true", help="one task per connection on the worker cluster"
        )
        parser.add_argument(
            "--objects",
            default="contacts",
            help="comma separated, of contacts, tasks, notes, appointments, users "
            "(default: contacts only)",
        )
        parser.add_argument("--since", help="only records updated since (ISO 8601, or 7d / 12h)")
        parser.add_argument("--business", default="", help="only the contacts of a CRM business")
        parser.add_argument("--dry-run", action="store_true", help="write nothing, report")
        parser.add_argument("--restart", action="store_true", help="abandon an unfinished run")
        parser.add_argument(
            "--propagate", action="store_true", help="also queue the records for other connections"
        )

    def handle(self, *args, **options) -> None:
        if bool(options["connection"]) == options["all"]:
            raise CommandError("Name the connection(s) to backfill, or give --all.")
        try:
            connections = (
                tasks.listable_connections()
                if options["all"]
                else [find_connection(name) for name in options["connection"]]
            )
            objects = parse_objects(options["objects"])
            since = parse_since(options["since"]) if options["since"] else None
            if since and options["business"]:
                raise ValueError("Give --since or --business, not both.")
            check_business_objects(objects, options["business"])
            for connection in connections:
                check_listable(connection, objects)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["queue"] or options["all"]:
            if options["dry_run"]:
                raise CommandError("--dry-run runs here: leave out --queue and --all.")
            self._enqueue(connections, objects, since, options)
            return
        for connection in connections:
            self._backfill(connection, objects, since, options)

    def _enqueue(self, connections, objects, since, options) -> None:
        """Check each connection can start (the task checks again), then queue its task."""
        task_options = {
            "objects": objects,
            "since": since.isoformat() if since else None,
            "business": options["business"],
            "propagate": options["propagate"],
            "restart": options["restart"],
        }
        for connection in connections:
            try:
                with transaction.atomic():
                    unfinished_run(
                        connection,
                        objects,
                        since,
                        options["propagate"],
                        business=options["business"],
                    )
            except OtherOptions as exc:
                if not options["restart"]:
                    raise CommandError(f"{connection}: {exc}") from exc
            except BackfillError as exc:
                raise CommandError(f"{connection}: {exc}") from exc
            task_id = tasks.enqueue_backfill(connection, task_options)
            self.stdout.write(f"Queued the backfill of {connection} (task {task_id}).")

    def _backfill(self, connection, objects, since, options) -> None:
        if options["dry_run"]:
            run, resumed = dry_run(connection, objects, since, options["business"]), False
        else:
            try:
                run, resumed = start_run(
                    connection,
                    objects,
                    since=since,
                    business=options["business"],
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
