"""The intake's per-delivery cost cuts keep what they replace (issue 19, item 3).

The InboundEvent INSERT is compiled once per database (sync/inbound/intake.py), yet each row is
the one save() would write and post_save still fires.
"""

from datetime import datetime

import pytest
from django.db.models import signals
from django.db.models.sql.compiler import SQLInsertCompiler
from django.test import Client

from sync.inbound import intake
from sync.inbound.routing import Route
from sync.models import InboundEvent, InboundStatus
from tests.sync.webhooks.conftest import LOCATION, URL, example, post_crm

pytestmark = pytest.mark.django_db


@pytest.fixture
def insert_compilations(monkeypatch):
    """How many times the ORM compiled an InboundEvent INSERT."""
    compiled = []
    original = SQLInsertCompiler.as_sql

    def counting(self, *args, **kwargs):
        if self.query.model is InboundEvent:
            compiled.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLInsertCompiler, "as_sql", counting)
    monkeypatch.setattr(intake._INSERT, "statements", {})  # as in a fresh process
    return compiled


def test_the_insert_is_compiled_once_not_per_delivery(crm_connection, insert_compilations):
    client = Client()
    for _ in range(3):
        assert post_crm(client, example("ContactCreate")).status_code == 200
    assert InboundEvent.objects.count() == 3
    assert len(insert_compilations) == 1


def test_the_stored_row_is_what_save_would_write(crm_connection, insert_compilations):
    body = example("ContactCreate")
    response = post_crm(Client(), body, headers={"HTTP_USER_AGENT": "crm/1"})
    event = InboundEvent.objects.get()
    assert response.json() == {"status": "accepted", "id": event.pk}
    assert event.connection_id == crm_connection.pk
    assert event.workspace_id == crm_connection.workspace_id
    assert (event.source, event.source_key, event.routing_key) == ("highlevel",) * 2 + (LOCATION,)
    assert event.webhook_id == body["webhookId"] and event.event_type == "ContactCreate"
    assert event.object_type == "contact" and event.remote_id == body["id"]
    assert event.headers == {"content-type": "application/json", "user-agent": "crm/1"}
    assert event.status == InboundStatus.RECEIVED and event.attempts == 0
    assert isinstance(event.source_timestamp, datetime) and event.source_timestamp.tzinfo
    assert event.received_at is not None and event.lease_token == ""


def test_post_save_still_fires_once_per_stored_event(crm_connection):
    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.pk, created, instance._state.adding))

    signals.post_save.connect(receiver, sender=InboundEvent, dispatch_uid="test-intake-cost")
    try:
        body = example("ContactCreate")
        post_crm(Client(), body)
        post_crm(Client(), body)  # the duplicate stores nothing and fires nothing
    finally:
        signals.post_save.disconnect(sender=InboundEvent, dispatch_uid="test-intake-cost")
    assert seen == [(InboundEvent.objects.get().pk, True, False)]


@pytest.mark.django_db(transaction=True)
def test_an_event_routed_to_a_connection_deleted_meanwhile_is_kept_unmatched(
    crm_connection, monkeypatch
):
    gone = Route(connection_id=crm_connection.pk + 1000, workspace_id=crm_connection.workspace_id)
    monkeypatch.setattr(intake, "cached_route", lambda *args: gone)  # a stale routing cache
    body = example("ContactCreate")
    response = post_crm(Client(), body)
    event = InboundEvent.objects.get(webhook_id=body["webhookId"])
    assert response.status_code == 202 and response.json()["status"] == "unmatched"
    assert event.status == InboundStatus.UNMATCHED and event.connection_id is None
    assert post_crm(Client(), body).json()["status"] == "duplicate"  # still deduplicated


def test_the_answer_is_rendered_at_once_in_drfs_bytes(crm_connection, monkeypatch):
    """No template-response machinery per delivery: the bytes JSONRenderer writes, built
    when the answer is; the same headers (Allow is DRF's) and status codes as before."""
    from rest_framework.response import Response

    rendered_late = []
    original = Response.rendered_content

    monkeypatch.setattr(
        Response,
        "rendered_content",
        property(lambda self: rendered_late.append(1) or original.fget(self)),
    )
    body = example("ContactCreate")
    accepted = post_crm(Client(), body)
    duplicate = post_crm(Client(), body)
    unsigned = Client().post(URL, b"{}", content_type="application/json")
    stored = InboundEvent.objects.get()
    assert accepted.content == b'{"status":"accepted","id":%d}' % stored.pk
    assert (
        duplicate.content
        == b'{"status":"duplicate","webhook_id":"%s"}' % body["webhookId"].encode()
    )
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "missing_signature"
    for response in (accepted, duplicate, unsigned):
        assert response["Content-Type"] == "application/json"
        assert response["Allow"] == "POST, OPTIONS"
    assert rendered_late == []


def test_the_webhook_urls_are_the_first_ones_tried():
    """Resolved for every delivery: the console's and the API's patterns are not tried first."""
    from django.urls import resolve

    for path in (URL, "/webhooks/in/some-partner/"):
        match = resolve(path)
        assert match.url_name.startswith("webhooks-")
        tried_first = [str(chain[1].pattern) if len(chain) > 1 else "" for chain in match.tried]
        assert set(tried_first) == {"webhooks/"}, tried_first


@pytest.mark.django_db(transaction=True)
def test_no_health_check_round_trip_the_insert_is_the_check(crm_connection, monkeypatch, settings):
    """Django's CONN_HEALTH_CHECKS (on for PostgreSQL) would send a SELECT 1 before each
    request's first statement; a delivery's only statement is its INSERT."""
    from django.db import connection

    # The shared cache (Redis in production; the database's in tests without it) in memory:
    # only the database statements of the intake itself are watched.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    looks = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: looks.append(1) or is_usable())
    client = Client()
    post_crm(client, example("ContactCreate"))  # the route is looked up, once per process
    looks.clear()
    for _ in range(2):
        connection.health_check_done = False  # as each request starts (close_old_connections)
        assert post_crm(client, example("ContactCreate")).json()["status"] == "accepted"
    assert looks == [] and InboundEvent.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_dropped_is_replaced_and_the_delivery_stored(crm_connection):
    from django.db import connection

    client = Client()
    assert post_crm(client, example("ContactCreate")).status_code == 200  # the connection is open
    _drop(connection)
    body = example("ContactCreate")
    response = post_crm(client, body)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    assert InboundEvent.objects.filter(webhook_id=body["webhookId"]).count() == 1


def _drop(connection) -> None:
    """What a database restart or an idle timeout does to a kept connection: on PostgreSQL the
    server ends its session; SQLite has no server, so Django's connection is closed."""
    if connection.vendor != "postgresql":
        connection.close()
        return
    backend = connection.connection.info.backend_pid
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        other.close()
