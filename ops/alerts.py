"""The alert check (every ALERT_CHECK_MINUTES): e-mail the admins about failing connections.

A connection alerts when, over the last ALERT_WINDOW_MINUTES, at least ALERT_MIN_ATTEMPTS
remote calls were made and the share that failed reaches ALERT_ERROR_RATE, or when its dead
outbox rows reach ALERT_DEAD_LETTERS. The same alert is sent at most once per
ALERT_REPEAT_MINUTES (`cache.add` is atomic, so several workers never send it twice).
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import send_mail
from django.db.models import Count, Q
from django.utils import timezone

from sync.models import ChangeStatus, Connection, DeliveryAttempt, OutboundChange

FAILED_OUTCOMES = (DeliveryAttempt.Outcome.RETRYABLE, DeliveryAttempt.Outcome.PERMANENT)


def connection_problems() -> dict[Connection, dict[str, str]]:
    """Connection → {kind: what is wrong} (only connections with problems)."""
    since = timezone.now() - timedelta(minutes=settings.ALERT_WINDOW_MINUTES)
    calls = dict(
        (row["connection"], (row["total"], row["failed"]))
        for row in DeliveryAttempt.objects.filter(created_at__gte=since)
        .values("connection")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(outcome__in=FAILED_OUTCOMES)))
    )
    dead = dict(
        OutboundChange.objects.filter(status=ChangeStatus.DEAD)
        .values("connection")
        .annotate(n=Count("id"))
        .values_list("connection", "n")
    )
    problems: dict[Connection, dict[str, str]] = {}
    for connection in Connection.objects.live().filter(active=True):
        found = {}
        total, failed = calls.get(connection.pk, (0, 0))
        if total >= settings.ALERT_MIN_ATTEMPTS and failed / total >= settings.ALERT_ERROR_RATE:
            window = settings.ALERT_WINDOW_MINUTES
            found["errors"] = f"{failed} of {total} calls failed in the last {window} min"
        if dead.get(connection.pk, 0) >= settings.ALERT_DEAD_LETTERS:
            found["dead"] = f"{dead[connection.pk]} dead outbox rows (replay them once fixed)"
        if found:
            problems[connection] = found
    return problems


def admin_emails() -> list[str]:
    users = get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(email="")
    emails = list(users.values_list("email", flat=True))
    emails += [email for _name, email in settings.ADMINS]
    return sorted(set(emails))


def check_alerts() -> int:
    """Send the due alerts; returns how many connections were reported."""
    recipients = admin_emails()
    sent = 0
    for connection, problems in connection_problems().items():
        key = f"ops:alert:{connection.pk}:{','.join(sorted(problems))}"
        if not recipients or not cache.add(key, 1, settings.ALERT_REPEAT_MINUTES * 60):
            continue
        body = "\n".join(f"- {p}" for p in problems.values())
        send_mail(
            f"[portal] Connection {connection.name} needs attention",
            f"Connection {connection.name} ({connection.slug}):\n{body}\n\n"
            "See Sync → Delivery attempts and Outbound changes in the admin.",
            None,
            recipients,
        )
        sent += 1
    return sent
