"""The sync panels of the operator dashboard (registered in SyncConfig.ready).

Every query is bounded: counts only over waiting/failed rows (index obx_conn_status), charts
only over the last 24 h (indexes on the time columns), grouped in the database.
"""

from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.db.models import Count, Min, QuerySet
from django.db.models.functions import TruncHour
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from portal.access import workspace_access
from portal.charts import Series, bar_chart, empty_chart
from sync.crypto import secrets_on_older_keys
from sync.models import ChangeStatus, Connection, DeliveryAttempt, InboundEvent, OutboundChange

COUNTED = (ChangeStatus.PENDING, ChangeStatus.RETRYING, ChangeStatus.IN_FLIGHT,
           ChangeStatus.FAILED, ChangeStatus.DEAD)  # fmt: skip
CHART_HOURS = 24
MAX_CHARTED_CONNECTIONS = 12
Outcome = DeliveryAttempt.Outcome


def _outbox_counts() -> dict[int, dict[str, int]]:
    rows = (
        OutboundChange.objects.filter(status__in=COUNTED)
        .order_by()
        .values_list("connection_id", "status")
        .annotate(n=Count("id"))
    )
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTED, 0))
    for connection_id, status, n in rows:
        counts[connection_id][status] = n
    return counts


def _oldest_waiting() -> dict[int, Any]:
    rows = (
        OutboundChange.objects.filter(status__in=(ChangeStatus.PENDING, ChangeStatus.RETRYING))
        .order_by()
        .values_list("connection_id")
        .annotate(oldest=Min("created_at"))
    )
    return dict(rows)


def _changelist(status: str, connection_id: int) -> str:
    base = reverse("admin:sync_outboundchange_changelist")
    return f"{base}?status__exact={status}&connection__id__exact={connection_id}"


def visible_connections(request: HttpRequest) -> QuerySet:
    """The live connections of the operator's workspaces: the only ones the dashboard shows."""
    return workspace_access(request.user).visible(Connection.objects.live(), "workspace")


def connection_rows(now, visible: QuerySet) -> list[dict[str, Any]]:
    counts, oldest = _outbox_counts(), _oldest_waiting()
    connections = (
        visible.defer("credentials").select_related("workspace")
        .order_by("workspace__name", "name")
    )  # fmt: skip
    rows = []
    for connection in connections:
        per_status = counts.get(connection.pk, dict.fromkeys(COUNTED, 0))
        started = oldest.get(connection.pk)
        rows.append({
            "connection": connection,
            "url": reverse("admin:sync_connection_change", args=[connection.pk]),
            "counts": [(s, per_status[s], _changelist(s, connection.pk)) for s in COUNTED],
            "lag_seconds": int((now - started).total_seconds()) if started else None,
        })  # fmt: skip
    return rows


def _hours(now) -> list:
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=CHART_HOURS - 1)
    return [start + timedelta(hours=i) for i in range(CHART_HOURS)]


def _hourly(queryset, time_field: str, since, group: str) -> dict[tuple[int, str, Any], int]:
    rows = (
        queryset.filter(**{f"{time_field}__gte": since})
        .order_by()
        .annotate(hour=TruncHour(time_field))
        .values_list("connection_id", group, "hour")
        .annotate(n=Count("id"))
    )
    return {(c, g, hour.replace(minute=0, second=0, microsecond=0)): n for c, g, hour, n in rows}


def charts(connections: list[Connection], now) -> list[str]:
    hours = _hours(now)
    attempts = _hourly(DeliveryAttempt.objects, "created_at", hours[0], "outcome")
    inbound = _hourly(InboundEvent.objects, "received_at", hours[0], "status")
    labels = [timezone.localtime(h).strftime("%H:00") for h in hours]
    drawn = []
    for connection in connections[:MAX_CHARTED_CONNECTIONS]:

        def total(source, groups, _pk=connection.pk):
            return [sum(source.get((_pk, g, h), 0) for g in groups) for h in hours]

        pushed = total(attempts, (Outcome.OK, Outcome.SANDBOX))
        failed = total(attempts, (Outcome.RETRYABLE, Outcome.PERMANENT))
        received = [sum(n for (c, _, h2), n in inbound.items() if c == connection.pk and h2 == h)
                    for h in hours]  # fmt: skip
        title = f"{connection.name}: last 24 h"
        if not any(pushed) and not any(failed) and not any(received):
            drawn.append(empty_chart(title))
            continue
        series = [Series("pushed", pushed, "#2e7d32"), Series("failed", failed, "#c62828"),
                  Series("inbound webhooks", received, "#1565c0")]  # fmt: skip
        drawn.append(bar_chart(series, labels, title))
    return drawn


def build_health_panel(request: HttpRequest) -> dict[str, Any]:
    now = timezone.now()
    rows = connection_rows(now, visible_connections(request))
    totals = {s: sum(dict((k, n) for k, n, _ in r["counts"])[s] for r in rows) for s in COUNTED}
    return {
        "rows": rows,
        "totals": totals,
        "dead_letters": totals[ChangeStatus.DEAD] + totals[ChangeStatus.FAILED],
        "charts": charts([r["connection"] for r in rows], now),
        "older_key_secrets": secrets_on_older_keys(),
        "failed_url": reverse("admin:sync_outboundchange_changelist") + "?status__in=failed,dead",
    }
