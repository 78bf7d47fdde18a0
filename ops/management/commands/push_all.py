"""`push_all N [--objects contacts,tasks,…] [--since T] [--dry-run]`: the first sync outward —
queue every live mirror record for connection N through the outbox (resumable)."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ops.push_all import PushAll, PushAllError, parse_objects, preview, start_run, summary
from portal.timeparse import parse_since
from sync.services import find_connection


class Command(BaseCommand):
    help = (
        "Queue every live mirror record of the chosen types for connection N (filter rules "
        "apply; records the remote already has are found and updated, not created twice). "
        "Resumes an unfinished run of the same options. The worker pushes them at the "
        "connection's rate limit."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("connection", help="name or slug")
        parser.add_argument(
            "--objects", help="comma separated (default: every type the connection receives)"
        )
        parser.add_argument("--since", help="only records changed since (ISO 8601, or 7d / 12h)")
        parser.add_argument("--dry-run", action="store_true", help="count, queue nothing")

    def handle(self, *args, **options) -> None:
        try:
            connection = find_connection(options["connection"])
            objects = parse_objects(options["objects"], connection)
            since = parse_since(options["since"]) if options["since"] else None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["dry_run"]:
            tally = preview(connection, objects, since)
            per_type = ", ".join(f"{n} {t}(s)" for t, n in tally.per_type.items()) or "nothing"
            self.stdout.write(
                f"Dry run, nothing queued; would queue {tally.queued} ({per_type}), "
                f"{tally.to_look_up} of them looked up at the remote first; "
                f"left out by rules {tally.filtered}."
            )
            return
        try:
            run, resumed = start_run(connection, objects, since=since, started_by="push_all")
        except PushAllError as exc:
            raise CommandError(str(exc)) from exc
        if resumed:
            self.stdout.write(f"Resuming first sync #{run.pk} after {run.queued} queued.")
        self._execute(run)

    def _execute(self, run) -> None:
        job = PushAll(run)
        bar = tqdm(
            total=job.total(),
            unit=" rec",
            desc="push_all",
            disable=not self.stdout.isatty(),  # no bar in logs, pipes and cron mails
            file=sys.stdout,
            dynamic_ncols=True,
        )
        job.progress = bar.update
        try:
            job.execute()
        finally:
            bar.close()
        self.stdout.write(f"First sync #{run.pk} of {run.connection}: {summary(job.run)}.")
        self.stdout.write("Follow the delivery on the dashboard or with `sync_status`.")
