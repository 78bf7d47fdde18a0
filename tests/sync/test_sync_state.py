"""The partner API shows where each object stands in every connected system."""

import pytest

from sync.engine.push import drain
from sync.models import Link
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conn(workspace):
    return ConnectionFactory(workspace=workspace, slug="crm")


def _sync_of(api, contact) -> list[dict]:
    response = api.get(f"/api/v1/contacts/{contact.public_id}/")
    assert response.status_code == 200
    return response.json()["sync"]


def test_pending_then_done_with_the_remote_id(api, conn, workspace, crm):
    contact = ContactFactory(workspace=workspace, email="ada@example.com")
    [pending] = _sync_of(api, contact)
    assert pending["connection"] == "crm" and pending["provider"] == "highlevel"
    assert pending["status"] == "pending" and pending["remote_id"] == ""
    crm.post(CRM + "/contacts/", json={"contact": {"id": "R1"}}, status=201)
    drain()
    [done] = _sync_of(api, contact)
    assert done["status"] == "done" and done["remote_id"] == "R1" and done["synced_at"]


def test_a_failed_push_shows_its_reason(api, conn, workspace, crm):
    crm.post(CRM + "/contacts/", status=422, json={"message": ["email must be an email"]})
    contact = ContactFactory(workspace=workspace, email="ada@example.com")
    drain()
    [failed] = _sync_of(api, contact)
    assert failed["status"] == "failed"
    assert "email must be an email" in failed["last_error"]


def test_an_object_that_came_from_a_system_is_linked(api, conn, workspace):
    contact = ContactFactory(workspace=workspace)
    conn.outbound_changes.all().delete()
    Link.objects.create(
        connection=conn, object_type="contact", object_id=contact.pk, remote_id="FromCRM"
    )
    [linked] = _sync_of(api, contact)
    assert linked == {
        "connection": "crm",
        "provider": "highlevel",
        "remote_id": "FromCRM",
        "status": "linked",
        "last_error": "",
        "synced_at": None,
    }


def test_objects_without_connections_show_an_empty_list(api, workspace):
    assert _sync_of(api, ContactFactory(workspace=workspace)) == []


def test_list_loads_sync_state_in_constant_queries(
    api, conn, workspace, django_assert_max_num_queries
):
    ContactFactory.create_batch(2, workspace=workspace)
    with django_assert_max_num_queries(20) as few:
        api.get("/api/v1/contacts/")
    ContactFactory.create_batch(25, workspace=workspace)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = api.get("/api/v1/contacts/")
    assert all(item["sync"][0]["status"] == "pending" for item in response.json()["results"])


def test_a_list_page_shows_each_object_as_it_shows_alone(api, conn, workspace, crm):
    """Several connections, pushes in every state and links: the page matches retrieve."""
    other = ConnectionFactory(workspace=workspace, slug="crm-b", company_id="comp-b")
    crm.post(CRM + "/contacts/", json={"contact": {"id": "R1"}}, status=201)
    pushed = ContactFactory(workspace=workspace, email="ada@example.com")
    drain()
    waiting = ContactFactory(workspace=workspace, email="bob@example.com")
    linked = ContactFactory(workspace=workspace)
    other.outbound_changes.filter(object_id=linked.pk).delete()
    Link.objects.create(connection=other, object_type="contact", object_id=linked.pk, remote_id="L")
    results = {row["id"]: row["sync"] for row in api.get("/api/v1/contacts/").json()["results"]}
    for contact in (pushed, waiting, linked):
        assert results[contact.public_id] == _sync_of(api, contact)
    assert {state["connection"] for state in results[pushed.public_id]} == {"crm", "crm-b"}
    assert any(state["synced_at"] for state in results[pushed.public_id])
    assert {s["status"] for s in results[linked.public_id]} == {"pending", "linked"}


def test_a_list_page_never_decrypts_connection_credentials(api, conn, workspace, monkeypatch):
    from sync.transport.crypto import EncryptedTextField

    ContactFactory.create_batch(3, workspace=workspace)

    def refuse(*args, **kwargs):
        raise AssertionError("credentials decrypted for a list page")

    monkeypatch.setattr(EncryptedTextField, "from_db_value", refuse)
    response = api.get("/api/v1/contacts/")
    assert response.status_code == 200 and len(response.json()["results"]) == 3


def test_cursor_pages_take_as_many_queries_as_the_first_whatever_their_size(
    api, conn, workspace, django_assert_max_num_queries
):
    ContactFactory.create_batch(30, workspace=workspace)
    with django_assert_max_num_queries(20) as first:
        page = api.get("/api/v1/contacts/?limit=5").json()
    queries = len(first.captured_queries)
    with django_assert_max_num_queries(queries):
        page = api.get(page["next"]).json()
    assert len(page["results"]) == 5
    with django_assert_max_num_queries(queries):
        page = api.get(f"/api/v1/contacts/?limit=20&cursor={page['next_cursor']}").json()
    assert len(page["results"]) == 20 and all(row["sync"] for row in page["results"])
