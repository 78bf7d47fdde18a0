import pytest
from django_q.brokers import get_broker
from django_q.signing import SignedPackage
from django_q.status import Stat

pytestmark = pytest.mark.django_db


def _register_running_cluster():
    """What a live qcluster does every few seconds: save its stat to the broker's store."""
    stat = Stat.__new__(Stat)
    stat.cluster_id = "c0ffee"
    stat.status = "Idle"
    stat.broker = get_broker()
    stat.broker.set_stat(Stat.get_key(stat.cluster_id), SignedPackage.dumps(stat, True), 30)


def test_healthz_is_503_without_a_worker(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False


def test_healthz_is_ok_with_a_worker_heartbeat(client):
    _register_running_cluster()
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"
    assert response.json()["checks"]["worker"]["clusters"][0]["id"] == "c0ffee"


def test_healthz_reports_a_database_failure(client, monkeypatch):
    from django.db import OperationalError

    from portal import views

    def broken_cursor():
        raise OperationalError("connection refused")

    monkeypatch.setattr(views.connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "connection refused" in response.json()["checks"]["database"]["error"]


def test_front_door_leads_to_the_console(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
