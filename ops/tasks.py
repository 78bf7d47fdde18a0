"""django-q2 entry points of the schedules (ops.schedules)."""

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from ops.alerts import check_alerts as run_alert_check
from ops.backfill_runs import OBJECT_TYPES
from ops.due import POLL, RECONCILE, claim_due, set_due
from ops.ingest import Tally
from ops.poll import Poller, poll_types
from ops.prune import prune
from ops.reconcile import Reconciler
from sync.connectors import connector_for
from sync.engine import queue
from sync.models import Connection

logger = logging.getLogger(__name__)


def listable_connections() -> list[Connection]:
    """Every active connection (not a dry-run one) whose connector can list its remote."""
    return [
        connection
        for connection in Connection.objects.live().filter(active=True, dry_run=False)
        if connector_for(connection).listable_types
    ]


# --- per-connection periodic work: the poll and reconcile (ops/due.py) ---------------------

POLL_TASK = "ops.tasks.poll_connection"
RECONCILE_TASK = "ops.tasks.reconcile_connection"
# A connection with nothing to poll (its connector lists nothing by change time, or its
# directions let none of it in) is looked at again after this long; saving it in the admin
# makes it due at once.
NOTHING_TO_POLL_RECHECK = timedelta(days=1)


def poll_due(now: datetime | None = None) -> int:
    """Every minute: claim the connections whose poll is due, one task each; the number queued.

    A claimed connection with nothing to poll is looked at again a day later from here, not
    queued: at an agency's scale (hundreds of webhook-only connections made at once) their
    tasks, each only saying so, would queue ahead of the pushes of every workspace."""
    now = now or timezone.now()
    claimed = claim_due(POLL, now)
    pollable = _with_something_to_poll(claimed)
    set_due(POLL, set(claimed) - pollable, now + NOTHING_TO_POLL_RECHECK)
    for connection_id in claimed:
        if connection_id in pollable:
            queue.enqueue(POLL_TASK, connection_id, group="ops-poll")
    return len(pollable)


def _with_something_to_poll(connection_ids: list[int]) -> set[int]:
    if not connection_ids:
        return set()
    connections = Connection.objects.filter(pk__in=connection_ids).prefetch_related("mappings")
    return {c.pk for c in connections if poll_types(connector_for(c))}


def reconcile_due(now: datetime | None = None) -> int:
    """Every minute: claim the connections whose reconcile is due, one task each."""
    claimed = claim_due(RECONCILE, now)
    for connection_id in claimed:
        queue.enqueue(RECONCILE_TASK, connection_id, group="ops-reconcile")
    return len(claimed)


def _enabled(connection_id: int) -> Connection | None:
    return Connection.objects.live().filter(pk=connection_id, active=True, dry_run=False).first()


def poll_connection(connection_id: int) -> str:
    """Poll one connection (ops/poll.py); a sweep left unfinished is due again at once."""
    connection = _enabled(connection_id)
    if connection is None:
        return f"connection {connection_id} is gone, inactive or a dry run: not polled"
    poller = Poller(connection)
    if not poll_types(poller.connector):
        set_due(POLL, [connection.pk], timezone.now() + NOTHING_TO_POLL_RECHECK)
        return f"{connection}: nothing to poll (nothing listed by change time is let in)"
    results = poller.run()
    if poller.unfinished:
        set_due(POLL, [connection.pk], timezone.now())
    return "; ".join(
        f"{object_type}s: {result.as_dict() if isinstance(result, Tally) else result}"
        for object_type, result in results.items()
    )


def reconcile_connection(connection_id: int) -> dict[str, Any]:
    """Reconcile every type the connection's connector can list (repairs: RECONCILE_REPAIR)."""
    connection = _enabled(connection_id)
    if connection is None:
        return {"skipped": f"connection {connection_id} is gone, inactive or a dry run"}
    # A contact's notes (listed one contact at a time) are read again when the CRM changed the
    # contact since about the previous run: listing every contact's would outlast the task.
    since = timezone.now() - timedelta(hours=connection.reconcile_interval_hours + 1)
    reconciler = Reconciler(
        connection, repair=settings.RECONCILE_REPAIR, children_changed_since=since
    )
    try:
        report = reconciler.run(list(OBJECT_TYPES))
    except Exception:
        logger.exception("Reconcile of connection %s failed.", connection.pk)
        raise  # the task fails visibly (failed tasks); the next one is due in its interval
    logger.info("Reconcile of connection %s: drift %s.", connection.pk, report.drift)
    return report.as_dict()


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
    return queue.enqueue(
        BACKFILL_TASK,
        connection.pk,
        options,
        group="ops-backfill",
        task_name=f"backfill-{connection.pk}",
    )


def backfill_connection(connection_id: int, options: dict) -> str:
    """Backfill one connection for a slice, then queue the rest as a new task. Refused (the
    task fails with the reason, visible among failed tasks) while a run of it is running."""
    from ops.backfill import Backfill
    from ops.backfill_runs import start_run
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
