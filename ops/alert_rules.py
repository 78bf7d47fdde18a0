"""The alert rules: each looks at the database at `now` and returns the alerts that hold.

    error_rate            a connection's share of failed calls over ALERT_WINDOW_MINUTES
    dead_letters          a connection's dead outbox rows reach ALERT_DEAD_LETTERS
    lag                   a connection's oldest waiting outbox row is older than ALERT_LAG_MINUTES
    credentials_rejected  a remote answered 401 or 403 within the window (revoked credentials)
    oauth_refresh         the CRM's token endpoint refused the connection's latest refresh
    api_key_expiring      a partner key expires within ALERT_EXPIRY_DAYS
    webhook_secret_expiring  a webhook connection's last signing secret expires within them
    poll_failing          a connection's poll of a type has failed for over ALERT_LAG_MINUTES

An alert names its rule and subject (what it is about, e.g. "connection:5"): that pair is what
"not repeated within an hour" counts (ops.alerts).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.utils.dateparse import parse_datetime

from ops.models import PollCheckpoint
from portal.models import ApiKey
from sync.connectors import connector_classes
from sync.models import WAITING, ChangeStatus, Connection, DeliveryAttempt, OutboundChange

FAILED_OUTCOMES = (DeliveryAttempt.Outcome.RETRYABLE, DeliveryAttempt.Outcome.PERMANENT)


@dataclass(frozen=True)
class Alert:
    rule: str
    subject: str
    workspaces: tuple[int, ...]
    title: str
    message: str


def _connection_alert(rule: str, connection: Connection, message: str) -> Alert:
    return Alert(
        rule,
        f"connection:{connection.pk}",
        (connection.workspace_id,),
        f"Connection {connection.name} needs attention",
        f"Connection {connection.name} ({connection.slug}): {message}",
    )


def _live_connections() -> dict[int, Connection]:
    connections = Connection.objects.live().filter(active=True).defer("credentials")
    return {c.pk: c for c in connections}


def _window(now: datetime) -> datetime:
    return now - timedelta(minutes=settings.ALERT_WINDOW_MINUTES)


def error_rate(now: datetime) -> list[Alert]:
    rows = (
        DeliveryAttempt.objects.filter(created_at__gte=_window(now), created_at__lte=now)
        .values("connection")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(outcome__in=FAILED_OUTCOMES)))
    )
    connections, alerts = _live_connections(), []
    for row in rows:
        connection, total, failed = connections.get(row["connection"]), row["total"], row["failed"]
        enough = total >= settings.ALERT_MIN_ATTEMPTS
        if connection and enough and failed / total >= settings.ALERT_ERROR_RATE:
            window = settings.ALERT_WINDOW_MINUTES
            message = f"{failed} of {total} calls failed in the last {window} min."
            alerts.append(_connection_alert("error_rate", connection, message))
    return alerts


def dead_letters(now: datetime) -> list[Alert]:
    rows = (
        OutboundChange.objects.filter(status=ChangeStatus.DEAD)
        .values("connection")
        .annotate(n=Count("id"))
        .values_list("connection", "n")
    )
    connections = _live_connections()
    return [
        _connection_alert(
            "dead_letters", connections[pk], f"{n} dead outbox rows (replay them once fixed)."
        )
        for pk, n in rows
        if pk in connections and n >= settings.ALERT_DEAD_LETTERS
    ]


def lag(now: datetime) -> list[Alert]:
    limit = now - timedelta(minutes=settings.ALERT_LAG_MINUTES)
    rows = (
        OutboundChange.objects.filter(status__in=WAITING)
        .values("connection")
        .annotate(oldest=Min("created_at"))
        .values_list("connection", "oldest")
    )
    connections = _live_connections()
    return [
        _connection_alert(
            "lag",
            connections[pk],
            f"the oldest waiting push is {int((now - oldest).total_seconds() // 60)} min old.",
        )
        for pk, oldest in rows
        if pk in connections and oldest < limit
    ]


def credentials_rejected(now: datetime) -> list[Alert]:
    rows = (
        DeliveryAttempt.objects.filter(
            created_at__gte=_window(now), created_at__lte=now, status_code__in=(401, 403)
        )
        .exclude(path__in=token_paths())
        .values("connection")
        .annotate(n=Count("id"), status=Max("status_code"))
        .values_list("connection", "n", "status")
    )
    connections = _live_connections()
    return [
        _connection_alert(
            "credentials_rejected",
            connections[pk],
            f"the remote refused our credentials {n} time(s) (HTTP {status}) in the last "
            f"{settings.ALERT_WINDOW_MINUTES} min: they may have been revoked. "
            "Enter new credentials on the connection.",
        )
        for pk, n, status in rows
        if pk in connections
    ]


def token_paths() -> list[str]:
    """The OAuth token requests of every connector that has one."""
    return [cls.token_path for cls in connector_classes() if cls.token_path]


def oauth_refresh(now: datetime) -> list[Alert]:
    """The newest token request of a connection within the window failed."""
    token_calls = DeliveryAttempt.objects.filter(
        path__in=token_paths(), created_at__gte=_window(now), created_at__lte=now
    ).order_by("connection_id", "-created_at", "-id")
    latest: dict[int, DeliveryAttempt] = {}
    for attempt in token_calls.only("connection_id", "outcome", "status_code", "error"):
        latest.setdefault(attempt.connection_id, attempt)
    connections = _live_connections()
    return [
        _connection_alert(
            "oauth_refresh",
            connections[pk],
            f"refreshing its OAuth token failed (HTTP {attempt.status_code or '-'}): "
            "reinstall the app from the connection's page.",
        )
        for pk, attempt in latest.items()
        if pk in connections and attempt.outcome in FAILED_OUTCOMES
    ]


def _expiry_limit(now: datetime) -> datetime:
    return now + timedelta(days=settings.ALERT_EXPIRY_DAYS)


def api_key_expiring(now: datetime) -> list[Alert]:
    keys = ApiKey.objects.filter(
        revoked_at__isnull=True,
        superseded_at__isnull=True,  # a rotated key's grace end is planned, not a surprise
        expires_at__gt=now,
        expires_at__lte=_expiry_limit(now),
    ).prefetch_related("workspaces")
    return [
        Alert(
            "api_key_expiring",
            f"apikey:{key.pk}",
            tuple(w.pk for w in key.workspaces.all()),
            f"API key {key.name} expires in {(key.expires_at - now).days} days",
            f"The partner API key {key.name} (psk_{key.prefix}…) expires on "
            f"{key.expires_at:%Y-%m-%d %H:%M} UTC. Rotate it (`apikeys rotate --name "
            f"{key.name}`) and give the partner the new secret.",
        )
        for key in keys
    ]


def webhook_secret_expiring(now: datetime) -> list[Alert]:
    alerts = []
    for connection in Connection.objects.live().filter(active=True, provider="webhook"):
        ends = [_expiry(entry) for entry in (connection.credentials or {}).get("secrets", [])]
        live = [end for end in ends if end is None or end > now]
        if not live or None in live or max(live) > _expiry_limit(now):
            continue
        alerts.append(
            Alert(
                "webhook_secret_expiring",
                f"connection:{connection.pk}",
                (connection.workspace_id,),
                f"Webhook secret of {connection.name} expires soon",
                f"Every signing secret of connection {connection.name} expires by "
                f"{max(live):%Y-%m-%d %H:%M} UTC: rotate it (action Rotate webhook secret).",
            )
        )
    return alerts


def _expiry(entry: dict) -> datetime | None:
    return parse_datetime(entry["expires_at"]) if entry.get("expires_at") else None


def poll_failing(now: datetime) -> list[Alert]:
    """A poll failing this long leaves lost webhooks unrepaired (the partial index on failing
    checkpoints keeps this to the failing ones)."""
    since = now - timedelta(minutes=settings.ALERT_LAG_MINUTES)
    failing = PollCheckpoint.objects.exclude(last_error="").filter(
        Q(last_success_at__lt=since) | Q(last_success_at__isnull=True, since__lt=since)
    )
    connections, alerts = _live_connections(), []
    for checkpoint in failing:
        connection = connections.get(checkpoint.connection_id)
        if connection is None:
            continue
        last = checkpoint.last_success_at
        message = (
            f"its poll of {checkpoint.object_type}s has failed since "
            f"{f'{last:%Y-%m-%d %H:%M} UTC' if last else 'it began'}: {checkpoint.last_error}"
        )
        alerts.append(_connection_alert("poll_failing", connection, message))
    return alerts


RULES = (
    error_rate,
    dead_letters,
    lag,
    credentials_rejected,
    oauth_refresh,
    api_key_expiring,
    webhook_secret_expiring,
    poll_failing,
)


def current_alerts(now: datetime) -> list[Alert]:
    return [alert for rule in RULES for alert in rule(now)]
