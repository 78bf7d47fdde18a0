"""Sending an alert: to the admins by e-mail, and to each active channel of its workspaces.

    e-mail           one message to the channel's addresses
    slack            POST {"text": …} — what Slack (and Mattermost, Teams' Slack connector, …)
                     incoming webhooks take
    signed_webhook   POST {"type": "alert.raised", …} signed like our outbound webhooks
                     (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)

Webhook URLs pass the SSRF guard when the channel is saved and again at every call (the socket
connects to the address that was checked: sync/transport/pinned_http.py); redirects are not
followed. A channel that fails keeps its error (visible in the admin) and does not stop the others.
"""

import json
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.core.validators import validate_email

from ops.alert_rules import Alert
from ops.models import AlertChannel
from sync.transport.pinned_http import guarded_session
from sync.transport.ssrf import check_url
from sync.transport.standard_webhooks import signed_headers

TIMEOUT_SECONDS = 10
_SESSION = guarded_session()


def admin_emails() -> list[str]:
    users = get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(email="")
    emails = list(users.values_list("email", flat=True))
    emails += [email for _name, email in settings.ADMINS]
    return sorted(set(emails))


def email_addresses(target: str) -> list[str]:
    """The channel's addresses; ValueError naming a bad one."""
    addresses = [a.strip() for a in target.split(",") if a.strip()]
    for address in addresses:
        validate_email(address)
    if not addresses:
        raise ValueError("Give at least one e-mail address.")
    return addresses


def check_channel_target(kind: str, target: str) -> None:
    """Raise ValueError (or ValidationError) when the target cannot be used for this kind."""
    if kind == AlertChannel.Kind.EMAIL:
        email_addresses(target)
    else:
        check_url(target)  # sync.transport.ssrf.UnsafeURL is a ValueError


def send_email(addresses: list[str], alert: Alert) -> None:
    body = f"{alert.message}\n\nSee the portal's admin: Operations → Alerts."
    send_mail(f"[portal] {alert.title}", body, None, addresses)


def slack_payload(alert: Alert) -> dict:
    return {"text": f"*{alert.title}*\n{alert.message}"}


def signed_body(alert: Alert, now: datetime) -> dict:
    return {
        "type": "alert.raised",
        "timestamp": now.isoformat(),
        "data": {
            "rule": alert.rule,
            "subject": alert.subject,
            "title": alert.title,
            "message": alert.message,
            "workspaces": list(alert.workspaces),
        },
    }


def send_to_channel(channel: AlertChannel, alert: Alert, now: datetime, msg_id: str) -> None:
    if channel.kind == AlertChannel.Kind.EMAIL:
        send_email(email_addresses(channel.target), alert)
        return
    check_url(channel.target)
    headers = {"Content-Type": "application/json", "User-Agent": "crm-sync-portal/alerts"}
    if channel.kind == AlertChannel.Kind.SLACK:
        body = json.dumps(slack_payload(alert))
    else:
        body = json.dumps(signed_body(alert, now))
        secret = (channel.credentials or {}).get("secret", "")
        headers |= signed_headers([secret], msg_id, int(now.timestamp()), body)
    response = _SESSION.post(
        channel.target,
        data=body.encode(),
        headers=headers,
        timeout=TIMEOUT_SECONDS,
        allow_redirects=False,
    )
    if not 200 <= response.status_code < 300:
        raise ValueError(f"HTTP {response.status_code} from the channel's URL.")


def deliver(alert: Alert, now: datetime, msg_id: str) -> None:
    recipients = admin_emails()
    if recipients:
        send_email(recipients, alert)
    channels = AlertChannel.objects.filter(workspace_id__in=alert.workspaces, active=True)
    for channel in channels:
        try:
            send_to_channel(channel, alert, now, msg_id)
        except Exception as exc:  # one broken channel must not silence the others
            AlertChannel.objects.filter(pk=channel.pk).update(last_error=str(exc)[:2000])
            continue
        AlertChannel.objects.filter(pk=channel.pk).update(last_sent_at=now, last_error="")
