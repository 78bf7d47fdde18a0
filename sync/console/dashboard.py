"""The sync panels of the operator dashboard (registered in SyncConfig.ready).

Every query is bounded: counts only over waiting/failed rows (index obx_conn_status), charts
only over the last 24 h or 7 days (indexes on the time columns), grouped in the database.
The charts count writes (anything but GET) apart from reads (backfill and reconcile GETs),
so a backfill does not look like traffic pushed; failures are their own series.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Case, Count, Min, QuerySet, Value, When
from django.db.models.functions import TruncDay, TruncHour
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from portal.access import workspace_access
from portal.charts import Series, bar_chart, empty_chart
from sync.models import ChangeStatus, Connection, DeliveryAttempt, InboundEvent, OutboundChange
from sync.transport.crypto import secrets_on_older_keys

COUNTED = (ChangeStatus.PENDING, ChangeStatus.RETRYING, ChangeStatus.IN_FLIGHT,
           ChangeStatus.FAILED, ChangeStatus.DEAD)  # fmt: skip
QUEUED = (ChangeStatus.PENDING, ChangeStatus.RETRYING, ChangeStatus.IN_FLIGHT)
MAX_CHARTED_CONNECTIONS = 12
Outcome = DeliveryAttempt.Outcome
OK_OUTCOMES = (Outcome.OK, Outcome.DRY_RUN)
FAILED_OUTCOMES = (Outcome.RETRYABLE, Outcome.PERMANENT)
READ_METHODS = ("GET",)


@dataclass(frozen=True)
class ChartRange:
    key: str
    label: str
    buckets: int
    step: timedelta
    trunc: type
    x_label: str
    y_label: str
    tick_format: str


RANGES = {
    "24h": ChartRange("24h", "Last 24 hours", 24, timedelta(hours=1), TruncHour,
                      "hour (UTC)", "calls per hour", "%H:00"),
    "7d": ChartRange("7d", "Last 7 days", 7, timedelta(days=1), TruncDay,
                     "day (UTC)", "calls per day", "%a %d"),
}  # fmt: skip


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
            "counts": [(s, per_status[s], _changelist(s, connection.pk)) for s in QUEUED],
            "dead_letters": per_status[ChangeStatus.FAILED] + per_status[ChangeStatus.DEAD],
            "dead_url": _dead_letters_url(connection.pk),
            "error_is_current": error_is_current(connection),
            "lag_seconds": int((now - started).total_seconds()) if started else None,
        })  # fmt: skip
    return rows


def error_is_current(connection: Connection) -> bool:
    """The last error still stands: no success came after it (an older one has aged out)."""
    if not connection.last_error_at:
        return False
    return not connection.last_success_at or connection.last_error_at > connection.last_success_at


def _dead_letters_url(connection_id: int) -> str:
    base = reverse("admin:sync_outboundchange_changelist")
    return f"{base}?status__in=failed,dead&connection__id__exact={connection_id}"


def _buckets(now, span: ChartRange) -> list:
    start = now.replace(minute=0, second=0, microsecond=0)
    if span.step >= timedelta(days=1):
        start = start.replace(hour=0)
    return [start - span.step * (span.buckets - 1 - i) for i in range(span.buckets)]


def _bucket_key(moment, span: ChartRange):
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if span.step >= timedelta(days=1) else moment


def _grouped(queryset, time_field: str, since, group: str, span: ChartRange) -> dict:
    rows = (
        queryset.filter(**{f"{time_field}__gte": since})
        .order_by()
        .annotate(bucket=span.trunc(time_field))
        .values_list("connection_id", group, "bucket")
        .annotate(n=Count("id"))
    )
    totals: dict[tuple, int] = defaultdict(int)
    for connection_id, value, bucket, n in rows:
        totals[(connection_id, value, _bucket_key(bucket, span))] += n
    return totals


def _attempt_groups(since, span: ChartRange) -> dict[tuple, int]:
    """{(connection, "writes" | "reads" | "failed", bucket): n}"""
    attempts = DeliveryAttempt.objects.annotate(
        kind=Case(
            When(outcome__in=FAILED_OUTCOMES, then=Value("failed")),
            When(method__in=READ_METHODS, then=Value("reads")),
            default=Value("writes"),
        )
    )
    return _grouped(attempts, "created_at", since, "kind", span)


def charts(connections: list[Connection], now, span: ChartRange) -> list[str]:
    buckets = _buckets(now, span)
    attempts = _attempt_groups(buckets[0], span)
    inbound = _grouped(InboundEvent.objects, "received_at", buckets[0], "connection_id", span)
    labels = [timezone.localtime(b).strftime(span.tick_format) for b in buckets]
    drawn = []
    for connection in connections[:MAX_CHARTED_CONNECTIONS]:
        pk = connection.pk
        series = [
            Series("failed", [attempts.get((pk, "failed", b), 0) for b in buckets], "#c62828"),
            Series("writes", [attempts.get((pk, "writes", b), 0) for b in buckets], "#2e7d32"),
            Series("reads", [attempts.get((pk, "reads", b), 0) for b in buckets], "#90a4ae"),
            Series("inbound webhooks", [inbound.get((pk, pk, b), 0) for b in buckets],
                   "#1565c0"),
        ]  # fmt: skip
        title = f"{connection.name}: {span.label.lower()}"
        if not any(any(s.values) for s in series):
            drawn.append(empty_chart(title))
            continue
        drawn.append(bar_chart(series, labels, title, x_label=span.x_label,
                               y_label=span.y_label))  # fmt: skip
    return drawn


def build_health_panel(request: HttpRequest) -> dict[str, Any]:
    now = timezone.now()
    span = RANGES.get(request.GET.get("range", ""), RANGES["24h"])
    rows = connection_rows(now, visible_connections(request))
    totals = {s: sum(n for r in rows for status, n, _ in r["counts"] if status == s)
              for s in QUEUED}  # fmt: skip
    return {
        "rows": rows,
        "totals": totals,
        "dead_letters": sum(r["dead_letters"] for r in rows),
        "charts": charts([r["connection"] for r in rows], now, span),
        "span": span,
        "ranges": RANGES.values(),
        "older_key_secrets": secrets_on_older_keys(),
        "failed_url": reverse("admin:sync_outboundchange_changelist") + "?status__in=failed,dead",
    }
