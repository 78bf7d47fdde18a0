"""The alert check (every ALERT_CHECK_MINUTES): evaluate the rules, send what is due.

    check_alerts(now=None) -> int        alerts sent

Each alert (a rule about one subject, ops.alert_rules) is sent at most once per
ALERT_REPEAT_MINUTES. The last sending is stored (AlertNotice) and claimed with one
conditional UPDATE — or the INSERT of its row, guarded by a unique constraint — so several
workers, web processes or machines never send the same alert twice. It goes to the admins by
e-mail and to every active channel of its workspaces (ops.alert_channels). `now` is
injectable (tests run the clock forward).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ops.alert_channels import deliver
from ops.alert_rules import Alert, current_alerts
from ops.models import AlertNotice


def check_alerts(now: datetime | None = None) -> int:
    now = now or timezone.now()
    sent = 0
    for alert in current_alerts(now):
        notice = claim(alert, now)
        if notice is not None:
            deliver(alert, now, msg_id=f"msg_alert_{notice.pk}_{int(now.timestamp())}")
            sent += 1
    return sent


def claim(alert: Alert, now: datetime) -> AlertNotice | None:
    """The notice to send now, or None when this alert went out less than the repeat ago."""
    repeat_after = now - timedelta(minutes=settings.ALERT_REPEAT_MINUTES)
    same = AlertNotice.objects.filter(rule=alert.rule, subject=alert.subject)
    fields = {"title": alert.title[:200], "message": alert.message, "workspaces": alert.workspaces}
    if same.filter(last_sent_at__lte=repeat_after).update(
        last_sent_at=now, times_sent=F("times_sent") + 1, **fields
    ):
        return same.get()
    if same.exists():
        return None
    try:
        with transaction.atomic():
            return AlertNotice.objects.create(
                rule=alert.rule,
                subject=alert.subject,
                first_sent_at=now,
                last_sent_at=now,
                **fields,
            )
    except IntegrityError:
        return None  # another process sent it first
