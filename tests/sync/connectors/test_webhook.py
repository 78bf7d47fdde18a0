"""Outbound webhooks: signed events, rotation, the retry schedule, disabling, replay, SSRF."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks import Webhook

from contacts.services import contact_delete, contact_update
from sync.connectors import connector_for
from sync.connectors.webhook import RETRY_SCHEDULE
from sync.connectors.webhook_secrets import rotate_secret
from sync.engine.push import drain, replay
from sync.models import ChangeStatus, Connection, DeliveryAttempt, OutboundChange
from tests.factories import ContactFactory, TaskFactory
from tests.sync.connectors.factories import HOOK_SECRET, HOOK_URL, webhook_connection

pytestmark = pytest.mark.django_db


@pytest.fixture
def conn(workspace):
    return webhook_connection(workspace)


def delivered(call, secret=HOOK_SECRET) -> dict:
    """The verified payload of one delivery (raises if the signature does not verify)."""
    request = call.request
    return Webhook(secret).verify(request.body.decode(), dict(request.headers))


def make_due(row: OutboundChange) -> None:
    OutboundChange.objects.filter(pk=row.pk).update(available_at=timezone.now())


def test_create_update_delete_are_signed_events_in_the_api_shape(remote, conn, workspace, actor):
    remote.post(HOOK_URL, status=204)
    contact = ContactFactory(workspace=workspace, first_name="Ada", email="ada@example.com")
    drain()
    request = remote.calls[0].request
    assert request.method == "POST" and request.url == HOOK_URL
    assert request.headers["Content-Type"] == "application/json"
    row = OutboundChange.objects.get(connection=conn)
    assert request.headers["webhook-id"] == f"msg_{row.pk}"
    event = delivered(remote.calls[0])
    assert event["type"] == "contact.created"
    assert event["data"]["id"] == contact.public_id and event["data"]["first_name"] == "Ada"
    assert "workspace" not in event["data"] and "email_key" not in event["data"]

    contact_update(contact, actor=actor, data={"first_name": "Augusta"})
    drain()
    assert delivered(remote.calls[1])["type"] == "contact.updated"
    assert delivered(remote.calls[1])["data"]["first_name"] == "Augusta"
    contact_delete(contact, actor=actor)
    drain()
    assert delivered(remote.calls[2])["type"] == "contact.deleted"


def test_related_objects_carry_public_ids(remote, conn, workspace):
    remote.post(HOOK_URL, status=200)
    task = TaskFactory(workspace=workspace)
    drain()
    task_event = [delivered(c) for c in remote.calls if delivered(c)["type"] == "task.created"]
    assert task_event[0]["data"]["contact_id"] == task.contact.public_id


def test_unsubscribed_events_are_not_sent(remote, workspace):
    conn = webhook_connection(workspace, options={"event_types": ["contact.deleted"]})
    ContactFactory(workspace=workspace)
    drain()
    assert len(remote.calls) == 0  # nothing was sent
    assert OutboundChange.objects.get(connection=conn).status == ChangeStatus.DONE


def test_rotation_signs_with_both_secrets_until_the_overlap_ends(remote, conn, workspace):
    remote.post(HOOK_URL, status=200)
    new = rotate_secret(conn, overlap=timedelta(hours=1))
    ContactFactory(workspace=workspace)
    drain()
    assert len(remote.calls[0].request.headers["webhook-signature"].split()) == 2
    assert delivered(remote.calls[0], HOOK_SECRET) == delivered(remote.calls[0], new)
    stored = Connection.objects.get(pk=conn.pk).credentials["secrets"]
    stored[1]["expires_at"] = (timezone.now() - timedelta(seconds=1)).isoformat()
    Connection.objects.filter(pk=conn.pk).update(credentials={"secrets": stored})
    ContactFactory(workspace=workspace)
    drain()
    assert len(remote.calls[1].request.headers["webhook-signature"].split()) == 1
    assert delivered(remote.calls[1], new)


def test_the_retry_schedule_then_dead(remote, conn, workspace):
    remote.post(HOOK_URL, status=503)
    ContactFactory(workspace=workspace)
    row = OutboundChange.objects.get(connection=conn)
    for attempt, expected_delay in enumerate(RETRY_SCHEDULE[1:], start=1):
        before = timezone.now()
        drain()
        row.refresh_from_db()
        assert row.attempts == attempt and row.status == ChangeStatus.RETRYING
        delay = (row.available_at - before).total_seconds()
        assert expected_delay - 1 <= delay <= expected_delay + 1
        make_due(row)
    drain()
    row.refresh_from_db()
    assert row.attempts == len(RETRY_SCHEDULE) == 8 and row.status == ChangeStatus.DEAD
    ids = {c.request.headers["webhook-id"] for c in remote.calls}
    assert ids == {f"msg_{row.pk}"}  # one message id across retries


def test_4xx_is_permanent_and_429_honours_retry_after(remote, conn, workspace):
    remote.post(HOOK_URL, status=410)
    ContactFactory(workspace=workspace)
    drain()
    assert OutboundChange.objects.get(connection=conn).status == ChangeStatus.FAILED
    remote.replace("POST", HOOK_URL, status=429, headers={"Retry-After": "120"})
    ContactFactory(workspace=workspace)
    drain()
    row = OutboundChange.objects.filter(connection=conn).order_by("-id").first()
    assert row.status == ChangeStatus.RETRYING
    assert (row.available_at - timezone.now()).total_seconds() > 100


def test_an_endpoint_failing_for_five_days_is_disabled_and_admins_told(
    remote, conn, workspace, settings
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    remote.post(HOOK_URL, status=500)
    ContactFactory(workspace=workspace)
    drain()
    assert Connection.objects.get(pk=conn.pk).active and not mail.outbox
    DeliveryAttempt.objects.filter(connection=conn).update(
        created_at=timezone.now() - timedelta(days=5, minutes=1)
    )
    ContactFactory(workspace=workspace)
    drain()
    assert not Connection.objects.get(pk=conn.pk).active
    assert len(mail.outbox) == 1 and "Partner hooks" in mail.outbox[0].subject


def test_a_recent_success_resets_the_failure_clock(remote, conn, workspace):
    DeliveryAttempt.objects.create(
        connection=conn, method="POST", path="", outcome="retryable", status_code=500
    )
    DeliveryAttempt.objects.update(created_at=timezone.now() - timedelta(days=6))
    Connection.objects.filter(pk=conn.pk).update(last_success_at=timezone.now() - timedelta(days=1))
    remote.post(HOOK_URL, status=500)
    ContactFactory(workspace=workspace)
    drain()
    assert Connection.objects.get(pk=conn.pk).active


def test_replay_resends_the_same_message_id(remote, conn, workspace):
    remote.post(HOOK_URL, status=400)
    ContactFactory(workspace=workspace)
    drain()
    row = OutboundChange.objects.get(connection=conn)
    remote.replace("POST", HOOK_URL, status=200)
    assert replay(OutboundChange.objects.filter(pk=row.pk)) == 1
    drain()
    row.refresh_from_db()
    assert row.status == ChangeStatus.DONE
    assert [c.request.headers["webhook-id"] for c in remote.calls] == [f"msg_{row.pk}"] * 2


def test_a_target_that_now_resolves_privately_is_refused_at_request_time(
    remote, conn, workspace, dns
):
    dns["partner.example"] = "10.0.0.8"
    ContactFactory(workspace=workspace)
    drain()
    row = OutboundChange.objects.get(connection=conn)
    assert row.status == ChangeStatus.FAILED and "SSRF" in row.last_error
    assert len(remote.calls) == 0


def test_connection_test_sends_a_signed_test_message(remote, conn):
    remote.post(HOOK_URL, status=200)
    assert connector_for(conn).test().ok
    assert delivered(remote.calls[0])["type"] == "portal.test"
    remote.replace("POST", HOOK_URL, status=404)
    assert not connector_for(conn).test().ok


def test_a_push_without_a_usable_secret_fails_once_with_the_reason(remote, workspace):
    conn = webhook_connection(workspace, credentials={})
    contact = ContactFactory(workspace=workspace)
    drain()
    row = OutboundChange.objects.get(connection=conn, object_id=contact.pk)
    assert row.status == ChangeStatus.FAILED and row.attempts == 1
    assert "no live signing secret" in row.last_error
    assert not remote.calls
