"""Endpoints x methods x scopes, workspace isolation, and what each write does."""

import pytest

from contacts.models import Contact, Task
from portal.models import AuditEntry
from tests.api_fixtures import ALL_SCOPES, client_for
from tests.factories import (
    AppointmentFactory,
    ContactFactory,
    CrmUserFactory,
    NoteFactory,
    TaskFactory,
    WorkspaceFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(workspace):
    contact = ContactFactory(workspace=workspace, phone="+15550100000")
    return {
        "users": CrmUserFactory(workspace=workspace),
        "contacts": contact,
        "tasks": TaskFactory(workspace=workspace, contact=contact),
        "notes": NoteFactory(workspace=workspace, contact=contact),
        "appointments": AppointmentFactory(workspace=workspace, contact=contact),
    }


def create_body(resource: str, objects) -> dict:
    contact = objects["contacts"].public_id
    return {
        "users": {"email": "new.user@example.com", "first_name": "New"},
        "contacts": {"email": "new@example.com", "first_name": "New"},
        "tasks": {"contact": contact, "title": "Call back"},
        "notes": {"contact": contact, "body": "Met at the fair"},
        "appointments": {
            "contact": contact,
            "calendar_id": "cal1",
            "start_time": "2030-01-01T10:00:00Z",
        },
    }[resource]


PATCHES = {
    "users": {"first_name": "Patched"},
    "contacts": {"first_name": "Patched"},
    "tasks": {"title": "Patched"},
    "notes": {"body": "Patched"},
    "appointments": {"title": "Patched"},
}
RESOURCES = list(PATCHES)
OPERATIONS = ["list", "retrieve", "create", "put", "patch", "delete"]
NESTED = ["tasks", "notes", "appointments"]


def call(client, resource: str, operation: str, objects):
    base = f"/api/v1/{resource}/"
    one = f"{base}{objects[resource].public_id}/"
    if operation == "list":
        return client.get(base)
    if operation == "retrieve":
        return client.get(one)
    if operation == "create":
        return client.post(base, create_body(resource, objects))
    if operation == "put":
        body = create_body(resource, objects)
        if resource in ("users", "contacts"):
            body["email"] = objects[resource].email
        return client.put(one, body)
    if operation == "patch":
        return client.patch(one, PATCHES[resource])
    return client.delete(one)


def call_nested(client, resource: str, operation: str, objects):
    url = f"/api/v1/contacts/{objects['contacts'].public_id}/{resource}/"
    if operation == "list":
        return client.get(url)
    body = create_body(resource, objects)
    body.pop("contact")
    return client.post(url, body)


def needed(resource: str, operation: str) -> str:
    return f"{resource}.readonly" if operation in ("list", "retrieve") else f"{resource}.write"


def without(resource: str) -> list[str]:
    """Every scope except those that would allow `resource`."""
    return [s for s in ALL_SCOPES if not s.startswith(f"{resource}.")]


CASES = [(r, op) for r in RESOURCES for op in OPERATIONS]
NESTED_CASES = [(r, op) for r in NESTED for op in ("list", "create")]


@pytest.mark.parametrize(("resource", "operation"), CASES)
def test_the_needed_scope_alone_allows(make_key, objects, resource, operation):
    _key, token = make_key(scopes=[needed(resource, operation)])
    response = call(client_for(token), resource, operation, objects)
    assert 200 <= response.status_code < 300, response.content


@pytest.mark.parametrize(("resource", "operation"), CASES)
def test_every_other_scope_is_403_naming_the_missing_one(make_key, objects, resource, operation):
    _key, token = make_key(scopes=without(resource))
    response = call(client_for(token), resource, operation, objects)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "missing_scope"
    assert error["details"] == {"required_scope": needed(resource, operation)}
    assert needed(resource, operation) in error["message"]


@pytest.mark.parametrize(("resource", "operation"), NESTED_CASES)
def test_nested_routes_need_the_child_scope(make_key, objects, resource, operation):
    _key, allowed = make_key(scopes=[needed(resource, operation)])
    _key, denied = make_key(scopes=without(resource))
    assert call_nested(client_for(allowed), resource, operation, objects).status_code in (200, 201)
    response = call_nested(client_for(denied), resource, operation, objects)
    assert response.status_code == 403
    assert response.json()["error"]["details"]["required_scope"] == needed(resource, operation)


@pytest.mark.parametrize("resource", RESOURCES)
def test_write_scope_implies_read_and_readonly_keys_cannot_write(make_key, objects, resource):
    _key, writer = make_key(scopes=[f"{resource}.write"])
    _key, reader = make_key(scopes=[s for s in ALL_SCOPES if s.endswith(".readonly")])
    for operation in ("list", "retrieve"):
        assert call(client_for(writer), resource, operation, objects).status_code == 200
    for operation in ("create", "put", "patch", "delete"):
        assert call(client_for(reader), resource, operation, objects).status_code == 403


def test_bulk_needs_contacts_write(make_key):
    body = {"contacts": [{"email": "a@example.com"}]}
    _key, writer = make_key(scopes=["contacts.write"])
    _key, reader = make_key(scopes=["contacts.readonly"])
    assert client_for(writer).post("/api/v1/contacts/bulk/", body).status_code == 200
    response = client_for(reader).post("/api/v1/contacts/bulk/", body)
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"required_scope": "contacts.write"}


# --- Workspace isolation --------------------------------------------------------------------


@pytest.fixture
def other_workspace(db):
    return WorkspaceFactory(name="Other", location_id="otherLocation000001")


def test_objects_of_another_workspace_are_404(api, other_workspace):
    theirs = ContactFactory(workspace=other_workspace)
    task = TaskFactory(workspace=other_workspace, contact=theirs)
    url = f"/api/v1/contacts/{theirs.public_id}/"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"first_name": "X"}).status_code == 404
    assert api.put(url, {"first_name": "X"}).status_code == 404
    assert api.delete(url).status_code == 404
    assert api.get(f"/api/v1/tasks/{task.public_id}/").status_code == 404
    assert api.get(f"{url}tasks/").status_code == 404
    assert api.post(f"{url}notes/", {"body": "x"}).status_code == 404
    assert api.get("/api/v1/contacts/").json()["results"] == []
    assert api.get(url).json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.first_name != "X" and theirs.deleted_at is None


def test_cannot_create_in_another_workspace(api, workspace, other_workspace):
    theirs = ContactFactory(workspace=other_workspace)
    response = api.post(
        "/api/v1/contacts/", {"first_name": "Sneaky"}, HTTP_X_WORKSPACE=other_workspace.slug
    )
    assert response.status_code == 400
    assert "X-Workspace" in response.json()["error"]["details"]
    response = api.post("/api/v1/tasks/", {"contact": theirs.public_id, "title": "x"})
    assert response.status_code == 400
    assert "contact" in response.json()["error"]["details"]
    assert not Contact.objects.filter(first_name="Sneaky").exists()
    assert not Task.objects.filter(workspace=other_workspace).exists()


def test_a_key_with_several_workspaces_names_where_to_create(make_key, workspace, other_workspace):
    _key, token = make_key(workspaces=[workspace, other_workspace])
    client = client_for(token)
    response = client.post("/api/v1/contacts/", {"first_name": "Two"})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["X-Workspace"]
    response = client.post(
        "/api/v1/contacts/", {"first_name": "Two"}, HTTP_X_WORKSPACE=other_workspace.location_id
    )
    assert response.status_code == 201
    assert response.json()["workspace"] == other_workspace.slug
    ContactFactory(workspace=workspace)
    assert len(client.get("/api/v1/contacts/").json()["results"]) == 2


# --- What writes do -------------------------------------------------------------------------


def test_create_normalises_and_audits_with_the_key_as_actor(api):
    response = api.post(
        "/api/v1/contacts/",
        {"email": " Jane@BÜCHER.example ", "phone": "(555) 010-0000", "tags": ["vip"]},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("ct_")
    assert body["email"] == "Jane@xn--bcher-kva.example"
    assert body["phone"] == "+15550100000"
    assert set(body) >= {"workspace", "version", "created_at", "updated_at", "deleted_at"}
    entry = AuditEntry.objects.get(object_id=body["id"])
    assert (entry.actor_kind, entry.actor_id, entry.source) == ("api_key", str(api.key.pk), "api")
    assert api.key.prefix in entry.actor_label
    assert entry.request_id == response["X-Request-ID"]


def test_put_replaces_and_patch_merges(api, workspace):
    contact = ContactFactory(workspace=workspace, first_name="A", phone="+15550100000")
    url = f"/api/v1/contacts/{contact.public_id}/"
    assert api.patch(url, {"last_name": "B"}).json()["phone"] == "+15550100000"
    replaced = api.put(url, {"first_name": "C"}).json()
    assert (replaced["first_name"], replaced["last_name"], replaced["phone"]) == ("C", "", "")


def test_delete_is_a_tombstone_through_the_services(api, workspace):
    contact = ContactFactory(workspace=workspace)
    task = TaskFactory(workspace=workspace, contact=contact)
    assert api.delete(f"/api/v1/contacts/{contact.public_id}/").status_code == 204
    task.refresh_from_db()
    assert task.deleted_at is not None
    shown = api.get(f"/api/v1/contacts/{contact.public_id}/").json()
    assert shown["deleted_at"] is not None
    response = api.patch(f"/api/v1/contacts/{contact.public_id}/", {"first_name": "Back"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "deleted"
    assert api.delete(f"/api/v1/contacts/{contact.public_id}/").status_code == 204
    assert AuditEntry.objects.filter(object_id=contact.public_id, action="delete").count() == 1


def test_nested_create_takes_the_contact_from_the_url(api, workspace):
    contact = ContactFactory(workspace=workspace)
    url = f"/api/v1/contacts/{contact.public_id}/tasks/"
    response = api.post(url, {"title": "Follow up"})
    assert response.status_code == 201
    assert response.json()["contact"] == contact.public_id
    assert [t["title"] for t in api.get(url).json()["results"]] == ["Follow up"]
    response = api.post(url, {"title": "x", "contact": contact.public_id})
    assert response.json()["error"]["details"] == {"contact": ["Unknown field."]}


def test_duplicate_external_id_is_409(api, workspace):
    ContactFactory(workspace=workspace, external_id="p-1")
    response = api.post("/api/v1/contacts/", {"external_id": "p-1"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate"
