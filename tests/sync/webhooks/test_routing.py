"""Webhook routing: cached per process, and right again as soon as connections change."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sync.inbound import routing
from sync.inbound.routing import Route, cached_route
from sync.models import Connection, InboundEvent, InboundStatus
from tests.factories import WorkspaceFactory
from tests.sync.factories import ConnectionFactory
from tests.sync.webhooks.conftest import LOCATION, example, post_crm

pytestmark = pytest.mark.django_db
CRM = "highlevel"  # the provider whose endpoint routes by location


@pytest.fixture
def clock(monkeypatch):
    """routing's monotonic clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(routing.time, "monotonic", lambda: now[0])
    return now


def route_of(location: str = LOCATION) -> Route | None:
    return cached_route(CRM, location, "ContactUpdate")


def test_a_route_is_looked_up_once_then_answered_without_a_query(crm_connection):
    expected = Route(crm_connection.pk, crm_connection.workspace_id)
    assert route_of() == expected
    with CaptureQueriesContext(connection) as queries:
        assert route_of() == expected
    assert len(queries) == 0


def test_a_cached_route_leads_deliveries_to_the_connection(client, crm_connection):
    for _ in range(2):
        assert post_crm(client, example("ContactCreate")).status_code == 200
    assert set(InboundEvent.objects.values_list("connection", "workspace")) == {
        (crm_connection.pk, crm_connection.workspace_id)
    }


def test_user_events_route_by_company_id(crm_connection):
    assert cached_route(CRM, LOCATION, "UserCreate") == Route(
        crm_connection.pk, crm_connection.workspace_id
    )
    assert cached_route(CRM, "another-company", "UserCreate") is None


def test_deactivating_the_connection_stops_routing_at_once(client, crm_connection):
    assert route_of() is not None
    crm_connection.active = False
    crm_connection.save()
    response = post_crm(client, example("ContactCreate"))
    assert response.status_code == 202 and response.json()["status"] == "unmatched"
    assert InboundEvent.objects.get().status == InboundStatus.UNMATCHED


def test_a_soft_deleted_connection_is_no_longer_routed(crm_connection):
    assert route_of() is not None
    crm_connection.soft_delete(by="test")
    assert route_of() is None


def test_a_new_connection_is_routed_although_its_absence_was_cached(workspace):
    assert route_of() is None
    crm = ConnectionFactory(workspace=workspace, slug="crm-new")
    assert route_of() == Route(crm.pk, workspace.pk)


def test_a_workspace_moving_location_takes_its_routes_along(crm_connection):
    assert route_of() is not None
    workspace = crm_connection.workspace
    workspace.location_id = "moved-location"
    workspace.save()
    assert route_of() is None
    assert route_of("moved-location") == Route(crm_connection.pk, workspace.pk)


def test_a_new_primary_connection_takes_over(crm_connection):
    assert route_of().connection_id == crm_connection.pk
    crm_connection.primary = False
    crm_connection.save()
    newer = ConnectionFactory(workspace=crm_connection.workspace, slug="crm-2", primary=True)
    assert route_of().connection_id == newer.pk


def test_another_process_change_is_seen_within_the_check_interval(crm_connection, clock):
    assert route_of() is not None
    # Another process deactivated it: its signal replaced the shared token, not ours.
    Connection.objects.filter(pk=crm_connection.pk).update(active=False)
    cache.set(routing.VERSION_KEY, "token-of-another-process", None)
    assert route_of() is not None  # not read again within the interval
    clock[0] += routing.VERSION_CHECK_SECONDS
    assert route_of() is None


def test_a_change_no_signal_saw_expires_with_the_entry(crm_connection, clock):
    assert route_of() is not None
    Connection.objects.filter(pk=crm_connection.pk).update(active=False)  # e.g. raw SQL
    clock[0] += routing.ROUTING_CACHE_SECONDS - 1
    assert route_of() is not None
    clock[0] += 1
    assert route_of() is None


def test_a_flushed_shared_cache_invalidates_every_cached_route(crm_connection, clock):
    assert route_of() is not None
    Connection.objects.filter(pk=crm_connection.pk).update(active=False)
    cache.clear()
    clock[0] += routing.VERSION_CHECK_SECONDS
    assert route_of() is None


def test_without_the_shared_cache_routes_come_from_the_database(crm_connection, monkeypatch):
    def unreachable(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(routing.cache, "get", unreachable)
    assert route_of() == Route(crm_connection.pk, crm_connection.workspace_id)
    Connection.objects.filter(pk=crm_connection.pk).update(active=False)
    assert route_of() is None


def test_the_process_cache_is_bounded(monkeypatch, db):
    monkeypatch.setattr(routing, "MAX_ENTRIES", 3)
    WorkspaceFactory(location_id="elsewhere")
    for index in range(5):
        route_of(f"location-{index}")
    assert len(routing._local.entries) <= 3
