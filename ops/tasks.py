"""django-q2 entry points of the schedules (ops.schedules)."""

import logging
import time

from django.conf import settings

from ops.alerts import check_alerts as run_alert_check
from ops.prune import prune
from ops.reconcile import Reconciler
from sync.connectors import connector_for
from sync.models import Connection

logger = logging.getLogger(__name__)


def listable_connections() -> list[Connection]:
    """Every active connection (not a dry-run one) whose connector can list its remote."""
    return [
        connection
        for connection in Connection.objects.live().filter(active=True, dry_run=False)
        if connector_for(connection).listable_types
    ]


def reconcile_all() -> dict[str, int]:
    """Reconcile users and contacts of every active connection whose connector can list."""
    drift = {}
    for connection in listable_connections():
        try:
            listed = connector_for(connection).listable_types
            report = Reconciler(connection, repair=settings.RECONCILE_REPAIR).run(
                [t for t in ("user", "contact") if t in listed]
            )
        except Exception:
            logger.exception("Reconcile of connection %s failed.", connection.pk)
            continue
        drift[connection.slug] = report.drift
    return drift


def prune_logs() -> dict[str, int]:
    from datetime import timedelta

    from ops.prune import prune_tombstones

    tombstones = prune_tombstones(timedelta(days=settings.TOMBSTONE_RETENTION_DAYS))
    return {**prune(timedelta(days=settings.PRUNE_LOGS_DAYS)), **tombstones}


def check_alerts() -> int:
    return run_alert_check()


# --- backfill: one task per connection, a slice at a time ---------------------------------

BACKFILL_TASK = "ops.tasks.backfill_connection"


def backfill_slice_seconds() -> float:
    """A slice ends well within the cluster's task timeout; the next slice is a new task."""
    return max(1.0, settings.Q_CLUSTER.get("timeout", 120) / 2)


def enqueue_backfill(connection: Connection, options: dict) -> str:
    from django_q.tasks import async_task

    from sync.engine.broker import shared_broker

    return async_task(
        BACKFILL_TASK,
        connection.pk,
        options,
        task_name=f"backfill-{connection.pk}",
        group="ops-backfill",
        broker=shared_broker(),
    )


def backfill_connection(connection_id: int, options: dict) -> str:
    """Backfill one connection for a slice, then queue the rest as a new task. Refused (the
    task fails with the reason, visible among failed tasks) while a run of it is running."""
    from ops.backfill import Backfill, start_run
    from portal.timeparse import parse_since

    connection = Connection.objects.live().get(pk=connection_id)
    since = parse_since(options["since"]) if options.get("since") else None
    run, _resumed = start_run(
        connection,
        options["objects"],
        since=since,
        business=options.get("business") or "",
        propagate=bool(options.get("propagate")),
        restart=bool(options.get("restart")),
    )
    backfill = Backfill(run)
    tally = backfill.execute(stop_at=time.monotonic() + backfill_slice_seconds())
    if not backfill.finished:
        enqueue_backfill(connection, {**options, "restart": False})
        return f"backfill #{run.pk}: {tally.as_dict()} in this slice; continues in a new task"
    return f"backfill #{run.pk} done: {tally.as_dict()} in this slice"


def push_all(run_id: int) -> str:
    """Queue a first sync's records (started from the admin); resumes a checkpointed run."""
    from ops.models import PushAllRun
    from ops.push_all import PushAll, summary

    run = PushAllRun.objects.get(pk=run_id)
    if run.status != "running":
        return f"first sync #{run_id} is {run.status}"
    return summary(PushAll(run).execute())
