"""django-q2 entry points of the schedules (ops.schedules)."""

import logging

from django.conf import settings

from ops.alerts import check_alerts as run_alert_check
from ops.prune import prune
from ops.reconcile import Reconciler
from sync.connectors import connector_class
from sync.connectors.base import Connector
from sync.models import Connection

logger = logging.getLogger(__name__)


def reconcile_all() -> dict[str, int]:
    """Reconcile users and contacts of every active connection whose connector can list."""
    drift = {}
    for connection in Connection.objects.live().filter(active=True, sandbox=False):
        if connector_class(connection.provider).fetch_page is Connector.fetch_page:
            continue
        try:
            report = Reconciler(connection, repair=settings.RECONCILE_REPAIR).run(
                ["user", "contact"]
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


def push_all(run_id: int) -> str:
    """Queue a first sync's records (started from the admin); resumes a checkpointed run."""
    from ops.models import PushAllRun
    from ops.push_all import PushAll, summary

    run = PushAllRun.objects.get(pk=run_id)
    if run.status != "running":
        return f"first sync #{run_id} is {run.status}"
    return summary(PushAll(run).execute())
