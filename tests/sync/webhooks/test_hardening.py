"""Attacks on the webhook endpoints (issue 15): hostile timestamps, floods, chunked bodies, and
webhook ids reused across CRM locations."""

import json
import time
import uuid

import pytest
from django.test import TestCase

from portal import throttle
from sync.models import InboundEvent
from sync.transport.standard_webhooks import sign
from tests.factories import WorkspaceFactory
from tests.sync.factories import ConnectionFactory
from tests.sync.webhooks.conftest import URL, example, post_crm
from tests.sync.webhooks.test_partner import NEW_SECRET, shop  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
HOSTILE_TIMESTAMPS = [
    "\u00b2",  # superscript two: str.isdigit() is True
    "\uff11\uff17" + "\uff10" * 8,  # full-width digits
    "1" * 5000,
    "1700000000.5",
    "-1",
    " ",
    "0x10",
]


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and "details" in error


def post_partner(client, *, timestamp: str, body: bytes = b'{"type": "contact.updated"}', **meta):
    msg_id = f"msg_{uuid.uuid4().hex}"
    signature = sign(NEW_SECRET, msg_id, timestamp, body)
    return client.generic(
        "POST",
        "/webhooks/in/shop/",
        body,
        content_type="application/json",
        HTTP_WEBHOOK_ID=msg_id,
        HTTP_WEBHOOK_TIMESTAMP=timestamp,
        HTTP_WEBHOOK_SIGNATURE=signature,
        **meta,
    )


# --- row 8: a timestamp is 1-12 ASCII digits, else 401 (never a 500) -----------------------


@pytest.mark.parametrize("timestamp", HOSTILE_TIMESTAMPS)
def test_a_hostile_webhook_timestamp_is_401_not_500(client, shop, timestamp):  # noqa: F811
    assert_error(post_partner(client, timestamp=timestamp), 401, "invalid_timestamp")
    # Only the refusal is recorded: nothing to apply, no body kept.
    assert list(InboundEvent.objects.values_list("status", "body")) == [("refused", "")]


@pytest.mark.parametrize("timestamp", HOSTILE_TIMESTAMPS)
def test_a_hostile_crm_body_timestamp_is_401_not_500(client, crm_connection, timestamp):
    response = post_crm(client, example("ContactCreate", timestamp=timestamp))
    assert_error(response, 401, "invalid_timestamp")
    assert not InboundEvent.objects.exists()


def test_a_valid_partner_timestamp_still_passes(client, shop):  # noqa: F811
    response = post_partner(client, timestamp=str(int(time.time())))
    assert response.status_code in (200, 202), response.content


# --- row 12: webhookId is unique per CRM location, not across locations ----------------------


def test_the_same_webhook_id_from_two_locations_is_two_deliveries(client, crm_connection):
    other = WorkspaceFactory(name="Other", location_id="OtherLocation0000001")
    ConnectionFactory(workspace=other, name="CRM 2", slug="crm-2")
    webhook_id = str(uuid.uuid4())
    mine = example("ContactCreate", webhookId=webhook_id)
    theirs = example("ContactCreate", webhookId=webhook_id, locationId=other.location_id)
    first, second = post_crm(client, mine), post_crm(client, theirs)
    assert first.json()["status"] == second.json()["status"] == "accepted"
    assert InboundEvent.objects.filter(webhook_id=webhook_id).count() == 2
    # A repeat within one location is still a duplicate, applied once.
    assert post_crm(client, theirs).json()["status"] == "duplicate"
    assert InboundEvent.objects.filter(webhook_id=webhook_id).count() == 2


# --- row 10: a per-source limit on webhook floods (429 + Retry-After, nothing dropped) --------


@pytest.fixture
def frozen_window(monkeypatch):
    monkeypatch.setattr(throttle, "clock", lambda: 1_800_000_010.0)


def test_a_flood_from_one_address_is_429_with_retry_after(
    client, crm_connection, settings, frozen_window
):
    settings.WEBHOOK_RATE_LIMIT = "2/minute"
    answers = [post_crm(client, example("ContactCreate")) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert_error(answers[2], 429, "rate_limited")
    assert answers[2]["Retry-After"] == "50"  # the rest of the minute (window pinned at :10)
    assert InboundEvent.objects.count() == 2  # the refused one is not stored: the CRM retries
    # Another address, or the same address on another endpoint, has its own count.
    other = post_crm(client, example("ContactCreate"), headers={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200
    partner = post_partner(client, timestamp=str(int(time.time())))
    assert partner.status_code == 404  # counted separately: reaches the (unknown) connection


def test_at_the_default_limit_a_process_tells_the_shared_counter_every_tenth_delivery(
    client, crm_connection, settings, frozen_window, monkeypatch
):
    settings.WEBHOOK_RATE_LIMIT = "100/second"
    told, increment = [], throttle._increment
    monkeypatch.setattr(
        throttle, "_increment", lambda *args: told.append(args[2]) or increment(*args)
    )
    answers = [post_crm(client, example("ContactCreate")).status_code for _ in range(25)]
    assert answers == [200] * 25
    assert told == [10, 10]  # two round trips for 25 deliveries; the last 5 wait for 5 more


def test_the_default_limit_is_generous_and_can_be_turned_off(client, crm_connection, settings):
    assert settings.WEBHOOK_RATE_LIMIT == "100/second"
    settings.WEBHOOK_RATE_LIMIT = ""
    assert post_crm(client, example("ContactCreate")).status_code == 200


# --- row 14: a chunked body is refused with 411, never read as empty ------------------------


def test_a_chunked_webhook_is_411_and_nothing_is_stored(client, crm_connection):
    body = json.dumps(example("ContactCreate")).encode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.generic(
            "POST",
            URL,
            body,
            content_type="application/json",
            CONTENT_LENGTH="",
            HTTP_TRANSFER_ENCODING="chunked",
        )
    assert_error(response, 411, "length_required")
    assert not InboundEvent.objects.exists()
