"""Intake: what each delivery is answered and what is stored (nothing applied on refusal)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from sync.engine import queue
from sync.inbound.processing import sweep
from sync.models import InboundEvent, InboundStatus
from tests.sync.webhooks.conftest import (
    OTHER_ED_KEY,
    URL,
    example,
    post_crm,
    sign_ed25519,
)

pytestmark = pytest.mark.django_db


def _iso(delta_seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_seconds)).isoformat()


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and "details" in error


@pytest.mark.parametrize("scheme", ["ed25519", "rsa"])
def test_a_signed_delivery_is_stored_raw_answered_200_and_enqueued(
    client, crm_connection, inbound_enqueued, scheme
):
    body = example("ContactCreate")
    response = post_crm(client, body, scheme=scheme)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    event = InboundEvent.objects.get()
    assert json.loads(event.body) == body
    assert event.status == InboundStatus.RECEIVED and event.connection == crm_connection
    assert event.workspace == crm_connection.workspace
    assert event.signature_scheme == {"ed25519": "x-ghl-signature", "rsa": "x-wh-signature"}[scheme]
    assert (event.object_type, event.remote_id) == ("contact", "nmFmQEsNgz6AVpgLVUJ0")
    assert "x-ghl-signature" not in event.headers and "x-wh-signature" not in event.headers
    assert inbound_enqueued == [("sync.inbound.tasks.process_received",)]  # a wake, no id


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"scheme": "none"}, "missing_signature"),
        ({"key": OTHER_ED_KEY}, "invalid_signature"),
        ({"scheme": "rsa", "key": None, "headers": {"HTTP_X_WH_SIGNATURE": "AAAA"}}, None),
    ],
)
def test_missing_or_wrong_signatures_are_401_and_nothing_is_stored(
    client, crm_connection, inbound_enqueued, kwargs, code
):
    headers = kwargs.pop("headers", None)
    if headers:  # a forged RSA signature replaces the real one
        data = json.dumps(example("ContactCreate")).encode()
        response = client.generic("POST", URL, data, content_type="application/json", **headers)
    else:
        response = post_crm(client, example("ContactCreate"), **kwargs)
    assert_error(response, 401, code or "invalid_signature")
    assert not InboundEvent.objects.exists() and not inbound_enqueued


def test_a_body_changed_after_signing_is_401(client, crm_connection):
    signed = json.dumps(example("ContactCreate")).encode()
    changed = signed.replace(b"John", b"Jane")
    response = client.generic(
        "POST",
        URL,
        changed,
        content_type="application/json",
        HTTP_X_GHL_SIGNATURE=sign_ed25519(signed),
    )
    assert_error(response, 401, "invalid_signature")
    assert not InboundEvent.objects.exists() and not Contact.objects.exists()


@pytest.mark.parametrize("skew", [-305, 305])
def test_timestamps_beyond_the_tolerance_past_or_future_are_401(client, crm_connection, skew):
    response = post_crm(client, example("ContactCreate", timestamp=_iso(skew)))
    assert_error(response, 401, "timestamp_out_of_tolerance")
    assert not InboundEvent.objects.exists()


def test_a_missing_timestamp_is_401(client, crm_connection):
    body = example("ContactCreate")
    del body["timestamp"]
    assert_error(post_crm(client, body), 401, "invalid_timestamp")


def test_the_tolerance_is_configurable(client, crm_connection, settings):
    settings.WEBHOOK_TOLERANCE_SECONDS = 3600
    assert post_crm(client, example("ContactCreate", timestamp=_iso(-1800))).status_code == 200


def test_a_repeated_webhook_id_is_200_and_stored_once(client, crm_connection, inbound_enqueued):
    body = example("ContactCreate")
    first, second = post_crm(client, body), post_crm(client, body)
    assert first.status_code == second.status_code == 200
    assert second.json()["status"] == "duplicate"
    assert InboundEvent.objects.count() == 1 and len(inbound_enqueued) == 1


def test_an_unknown_location_is_stored_unmatched_202(client, crm_connection, inbound_enqueued):
    response = post_crm(client, example("ContactCreate", locationId="nowhere"))
    assert response.status_code == 202 and response.json()["status"] == "unmatched"
    event = InboundEvent.objects.get()
    assert event.status == InboundStatus.UNMATCHED and event.routing_key == "nowhere"
    assert not inbound_enqueued


def test_an_unknown_event_type_is_stored_ignored_202(client, crm_connection, inbound_enqueued):
    response = post_crm(client, example("ContactCreate", type="OpportunityCreate"))
    assert response.status_code == 202 and response.json()["status"] == "ignored"
    assert InboundEvent.objects.get().status == InboundStatus.IGNORED and not inbound_enqueued


def test_non_json_is_400(client, crm_connection):
    assert_error(post_crm(client, None, raw=b"{not json"), 400, "invalid_json")
    assert_error(post_crm(client, None, raw=b"[1, 2]"), 400, "invalid_json")
    assert_error(post_crm(client, None, raw=b"\xff\xfe{}"), 400, "invalid_json")
    assert not InboundEvent.objects.exists()


def test_over_one_megabyte_is_413(client, crm_connection):
    body = example("ContactCreate", padding="x" * (1024 * 1024))
    assert_error(post_crm(client, body), 413, "too_large")


def test_a_wrong_content_type_is_415(client, crm_connection):
    data = json.dumps(example("ContactCreate")).encode()
    response = client.generic(
        "POST", URL, data, content_type="text/plain", HTTP_X_GHL_SIGNATURE=sign_ed25519(data)
    )
    assert_error(response, 415, "unsupported_media_type")


def test_a_content_type_with_charset_is_fine(client, crm_connection):
    data = json.dumps(example("ContactCreate")).encode()
    response = client.generic(
        "POST",
        URL,
        data,
        content_type="application/json; charset=utf-8",
        HTTP_X_GHL_SIGNATURE=sign_ed25519(data),
    )
    assert response.status_code == 200


def test_user_events_route_by_company_id(client, crm_connection):
    response = post_crm(client, example("UserCreate"))
    assert response.status_code == 200
    assert InboundEvent.objects.get().connection == crm_connection


def test_a_delivery_the_broker_refuses_is_left_for_the_next_sweep(
    client, crm_connection, monkeypatch, inbound_enqueued
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(queue, "async_task", broker_down)
    response = post_crm(client, example("ContactCreate"))
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert InboundEvent.objects.get().status == InboundStatus.RECEIVED
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: inbound_enqueued.append(args))
    assert sweep()["due"] == 1  # back up: the sweeper wakes the workers
    assert inbound_enqueued == [("sync.inbound.tasks.process_received",)]


def test_other_methods_are_405_in_the_error_shape(client, crm_connection):
    for method in ("get", "put", "patch", "delete"):
        response = getattr(client, method)(URL)
        assert_error(response, 405, "method_not_allowed")
        assert response["Allow"] == "POST, OPTIONS"
        assert response.json()["error"]["message"] == f'Method "{method.upper()}" not allowed.'


def test_options_describes_the_endpoint(client):
    response = client.options(URL)
    assert response.status_code == 200 and response["Allow"] == "POST, OPTIONS"
    assert response.json() == {
        "name": "High Level Webhook",
        "description": "",
        "renders": ["application/json"],
        "parses": [],
    }


def test_answers_are_compact_json_whatever_the_sender_accepts(client, crm_connection):
    response = post_crm(client, example("ContactCreate"), headers={"HTTP_ACCEPT": "text/html"})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.content == b'{"status":"accepted","id":%d}' % InboundEvent.objects.get().pk


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_insert_commits_alone_and_enqueues_at_once(
    crm_connection, inbound_enqueued
):
    body = example("ContactCreate")
    with CaptureQueriesContext(connection) as queries:
        first = post_crm(Client(), body)
    assert first.status_code == 200 and len(inbound_enqueued) == 1
    statements = [q["sql"].split()[0].upper() for q in queries]
    # (The database cache's rate-limit counter is the other statement outside the event's.)
    inserts = [q for q in queries if q["sql"].startswith('INSERT INTO "sync_inboundevent"')]
    assert len(inserts) == 1 and "SAVEPOINT" not in statements
    second = post_crm(Client(), body)  # the duplicate's failed insert leaves nothing behind
    assert second.json()["status"] == "duplicate" and InboundEvent.objects.count() == 1
    assert len(inbound_enqueued) == 1
