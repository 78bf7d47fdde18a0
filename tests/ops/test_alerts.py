"""Alert rules and channels: every rule fires at most once an hour (the clock is injected), to
the admins, an e-mail channel, a Slack-compatible and a signed webhook channel; channel URLs
pass the SSRF guard."""

import json
from datetime import timedelta

import pytest
import responses
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from ops.alerts import check_alerts
from ops.models import AlertChannel, AlertNotice, PollCheckpoint
from portal.apikeys import apikey_create
from sync.models import ChangeStatus, DeliveryAttempt, OutboundChange
from sync.transport.standard_webhooks import new_secret, sign
from tests.factories import TEST_ACTOR, ContactFactory
from tests.sync.connectors import conftest as connector_fixtures
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
dns = connector_fixtures.dns  # no real DNS (autouse)
SLACK = "https://hooks.slack.example/services/T1/B2/x"
SIGNED = "https://ops.partner.example/alerts"
SECRET = new_secret()


@pytest.fixture
def channels(workspace):
    get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    AlertChannel.objects.create(
        workspace=workspace, name="On call", kind="email", target="oncall@example.com"
    )
    AlertChannel.objects.create(workspace=workspace, name="Slack", kind="slack", target=SLACK)
    AlertChannel.objects.create(
        workspace=workspace,
        name="Pager",
        kind="signed_webhook",
        target=SIGNED,
        credentials={"secret": SECRET},
    )


@pytest.fixture
def hooks():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(SLACK, body="ok")
        mock.post(SIGNED, status=204)
        yield mock


def make_error_rate(workspace, now):
    conn = ConnectionFactory(workspace=workspace, name="Main CRM")
    for i in range(12):
        outcome = "ok" if i < 4 else "retryable"
        DeliveryAttempt.objects.create(connection=conn, method="PUT", path="/x", outcome=outcome)
    return "8 of 12 calls failed"


def make_dead_letters(workspace, now, settings):
    settings.ALERT_DEAD_LETTERS = 1
    conn = ConnectionFactory(workspace=workspace, name="Main CRM")
    contact = ContactFactory(workspace=workspace)
    OutboundChange.objects.filter(connection=conn, object_id=contact.pk).update(
        status=ChangeStatus.DEAD
    )
    return "1 dead outbox rows"


def make_lag(workspace, now):
    conn = ConnectionFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace)
    OutboundChange.objects.filter(connection=conn, object_id=contact.pk).update(
        created_at=now - timedelta(minutes=45)
    )
    return "the oldest waiting push is 45 min old"


def make_credentials_rejected(workspace, now):
    conn = ConnectionFactory(workspace=workspace)
    DeliveryAttempt.objects.create(
        connection=conn, method="GET", path="/contacts/", status_code=401, outcome="permanent"
    )
    return "refused our credentials 1 time(s) (HTTP 401)"


def make_oauth_refresh(workspace, now):
    conn = ConnectionFactory(workspace=workspace)
    DeliveryAttempt.objects.create(
        connection=conn, method="POST", path="/oauth/token", status_code=400, outcome="permanent"
    )
    return "refreshing its OAuth token failed (HTTP 400)"


def make_api_key_expiring(workspace, now):
    apikey_create(
        name="signage",
        scopes=["contacts.readonly"],
        workspaces=[workspace],
        actor=TEST_ACTOR,
        expires_at=now + timedelta(days=10),
    )
    return "expires on"


def make_webhook_secret_expiring(workspace, now):
    expires = (now + timedelta(days=5)).isoformat()
    ConnectionFactory(
        workspace=workspace,
        provider="webhook",
        base_url="https://partner.example/hooks",
        credentials={"secrets": [{"secret": new_secret(), "expires_at": expires}]},
    )
    return "Every signing secret"


def make_poll_failing(workspace, now):
    conn = ConnectionFactory(workspace=workspace)
    PollCheckpoint.objects.create(
        connection=conn,
        object_type="contact",
        since=now - timedelta(hours=2),
        last_success_at=now - timedelta(minutes=45),
        last_error_at=now,
        last_error="RemoteError: HTTP 503: Service Unavailable",
    )
    PollCheckpoint.objects.create(  # failed once, a moment ago: not yet worth an alert
        connection=ConnectionFactory(workspace=workspace),
        object_type="contact",
        since=now - timedelta(hours=2),
        last_success_at=now - timedelta(minutes=5),
        last_error="RemoteError: timeout",
    )
    return "its poll of contacts has failed since"


RULES = {
    "error_rate": make_error_rate,
    "dead_letters": make_dead_letters,
    "lag": make_lag,
    "credentials_rejected": make_credentials_rejected,
    "oauth_refresh": make_oauth_refresh,
    "api_key_expiring": make_api_key_expiring,
    "webhook_secret_expiring": make_webhook_secret_expiring,
    "poll_failing": make_poll_failing,
}


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_fires_once_an_hour_to_every_channel(rule, workspace, channels, hooks, settings):
    now = timezone.now() + timedelta(seconds=1)
    make = RULES[rule]
    expected = make(workspace, now, settings) if rule == "dead_letters" else make(workspace, now)
    assert check_alerts(now=now) == 1
    assert check_alerts(now=now + timedelta(minutes=5)) == 0  # within the hour: not again
    notice = AlertNotice.objects.get()
    assert notice.rule == rule and expected in notice.message

    assert sorted(m.to[0] for m in mail.outbox) == ["boss@example.com", "oncall@example.com"]
    assert all(expected in m.body for m in mail.outbox)
    slack, signed = (
        [c for c in hooks.calls if c.request.url == SLACK],
        [c for c in hooks.calls if c.request.url == SIGNED],
    )
    assert len(slack) == 1 and len(signed) == 1
    text = json.loads(slack[0].request.body)["text"]
    assert text.startswith(f"*{notice.title}*") and expected in text
    request = signed[0].request
    body = request.body.decode()
    headers = request.headers
    assert headers["webhook-signature"] == sign(
        SECRET, headers["webhook-id"], int(headers["webhook-timestamp"]), body
    )
    payload = json.loads(body)
    assert payload["type"] == "alert.raised" and payload["data"]["rule"] == rule
    assert payload["data"]["workspaces"] == [workspace.pk]
    assert AlertChannel.objects.filter(last_error="").count() == 3


def test_a_key_expiring_in_10_days_raises_one_alert_an_hour(workspace, channels, hooks):
    now = timezone.now()
    make_api_key_expiring(workspace, now)
    sent = [check_alerts(now=now + timedelta(minutes=m)) for m in (0, 10, 59, 61)]
    assert sent == [1, 0, 0, 1]  # again only once the hour has passed
    notice = AlertNotice.objects.get()
    assert notice.times_sent == 2 and notice.title == "API key signage expires in 9 days"
    assert len([c for c in hooks.calls if c.request.url == SIGNED]) == 2


def test_keys_far_from_expiry_rotated_or_revoked_do_not_alert(workspace, channels, hooks):
    now = timezone.now()
    for name, days in (("far", 30), ("none", None)):
        apikey_create(
            name=name,
            scopes=["contacts.readonly"],
            workspaces=[workspace],
            actor=TEST_ACTOR,
            expires_at=now + timedelta(days=days) if days else None,
        )
    assert check_alerts(now=now) == 0 and not mail.outbox


def test_a_channel_whose_url_turns_private_is_refused_and_its_error_kept(
    workspace, channels, hooks, dns
):
    dns["ops.partner.example"] = "10.0.0.7"
    make_api_key_expiring(workspace, timezone.now())
    assert check_alerts() == 1
    pager = AlertChannel.objects.get(name="Pager")
    assert "10.0.0.7" in pager.last_error or "private" in pager.last_error
    assert not [c for c in hooks.calls if c.request.url == SIGNED]
    assert AlertChannel.objects.get(name="Slack").last_sent_at is not None


def test_the_admin_refuses_private_urls_and_shows_a_signed_channels_secret_once(
    admin_client, workspace, dns
):
    url = reverse("admin:ops_alertchannel_add")
    form = {"workspace": workspace.pk, "name": "Internal", "kind": "slack", "active": "on"}
    refused = admin_client.post(url, {**form, "target": "http://127.0.0.1:9000/hook"})
    assert refused.status_code == 200 and not AlertChannel.objects.exists()
    assert "127.0.0.1" in refused.content.decode()
    bad_mail = admin_client.post(url, {**form, "kind": "email", "target": "not-an-address"})
    assert bad_mail.status_code == 200 and not AlertChannel.objects.exists()
    added = admin_client.post(
        url, {**form, "kind": "signed_webhook", "target": SIGNED}, follow=True
    )
    channel = AlertChannel.objects.get()
    assert channel.credentials["secret"].startswith("whsec_")
    assert channel.credentials["secret"] in added.content.decode()
    page = admin_client.get(reverse("admin:ops_alertchannel_change", args=[channel.pk]))
    assert channel.credentials["secret"] not in page.content.decode()
    assert admin_client.get(reverse("admin:ops_alertnotice_changelist")).status_code == 200
