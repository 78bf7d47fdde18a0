import socket

import pytest
from django.core.cache import cache

from portal import throttle
from sync.connectors.highlevel.client import API_HOST
from sync.inbound.routing import forget_routes
from tests.factories import TEST_ACTOR, WorkspaceFactory


def _uses_database(request) -> bool:
    fixtures = set(request.fixturenames)
    return bool(
        request.node.get_closest_marker("django_db")
        or fixtures & {"db", "transactional_db", "client", "admin_client"}
    )


@pytest.fixture(autouse=True)
def _clear_cache(request):
    # The cache is shared state (the database, or Redis in CI): start every test from empty.
    if _uses_database(request):
        marker = request.node.get_closest_marker("django_db")
        transactional = "transactional_db" in request.fixturenames or (
            marker is not None and marker.kwargs.get("transaction")
        )
        request.getfixturevalue("transactional_db" if transactional else "db")
        cache.clear()
        forget_routes()  # webhook routes this process cached (they trust the shared cache)
        throttle.forget_local_counts()  # and the webhook counts it has not told the cache yet


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Acme", location_id="ve9EPM428h8vShlRW1KT")


@pytest.fixture
def actor():
    return TEST_ACTOR


# A public address standing in for the CRM's API host: its connections go through the SSRF
# guard, which resolves the host, and tests never use the real DNS (`responses` answers).
CRM_TEST_ADDRESS = "104.18.0.10"


@pytest.fixture(autouse=True)
def _crm_host_resolves(monkeypatch):
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == API_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (CRM_TEST_ADDRESS, port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
