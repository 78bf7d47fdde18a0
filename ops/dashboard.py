"""The dashboard's "First syncs" panel: each recent push_all run and how far its delivery got;
and its "Polls failing" panel: the poll checkpoints whose last run failed.

Bounded: at most MAX_RUNS runs (unfinished, or started in the last RECENT_HOURS), and one
grouped count of each run's outbox rows; at most MAX_FAILING failing checkpoints of the
operator's workspaces (a partial index holds only the failing ones). Both panels show only the
operator's workspaces.
"""

from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from ops.models import UNFINISHED, PollCheckpoint, PushAllRun
from ops.push_all import delivery
from portal.access import workspace_access
from sync.models import Connection

MAX_RUNS = 10
MAX_FAILING = 20
RECENT_HOURS = 24


def run_progress(run: PushAllRun) -> dict[str, Any]:
    counts = delivery(run)
    done = counts.get("done", 0) + counts.get("coalesced", 0)
    failed = counts.get("failed", 0) + counts.get("dead", 0)
    waiting = sum(counts.get(s, 0) for s in ("pending", "retrying", "in_flight"))
    return {
        "run": run,
        "done": done,
        "failed": failed,
        "waiting": waiting,
        "percent": int(100 * (done + failed) / run.queued) if run.queued else 0,
        "url": reverse("admin:ops_pushallrun_changelist") + f"?id={run.pk}",
    }


def build_push_all_panel(request: HttpRequest) -> dict[str, Any]:
    since = timezone.now() - timedelta(hours=RECENT_HOURS)
    runs = (
        PushAllRun.objects.filter(Q(status__in=UNFINISHED) | Q(started_at__gte=since))
        .filter(connection__in=_visible_connections(request).values("pk"))
        .select_related("connection")
        .order_by("-id")[:MAX_RUNS]
    )
    return {"runs": [run_progress(run) for run in runs]}


def build_polls_panel(request: HttpRequest) -> dict[str, Any]:
    failing = (
        PollCheckpoint.objects.exclude(last_error="")
        .filter(connection__in=_visible_connections(request).values("pk"))
        .select_related("connection")
        .order_by("-last_error_at")[:MAX_FAILING]
    )
    return {
        "failing": [
            {
                "checkpoint": c,
                "url": reverse("admin:sync_connection_change", args=[c.connection_id]),
            }
            for c in failing
        ]
    }


def _visible_connections(request: HttpRequest):
    """The connections of the operator's workspaces (every panel shows only those)."""
    return workspace_access(request.user).visible(Connection.objects.live(), "workspace")
