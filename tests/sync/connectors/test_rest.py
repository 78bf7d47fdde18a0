"""The generic REST connector over the shipped presets: exact requests, auth, errors."""

import base64
import copy
import json

import pytest
from django.db import connection
from django.urls import reverse

from contacts.services import contact_delete, contact_update, task_create
from sync.connectors import connector_for
from sync.engine.push import drain
from sync.models import ChangeStatus, Connection, FieldMapping, Link, OutboundChange, RestPreset
from sync.models.presets import validate_config
from sync.presets import apply_preset_mappings, connection_fields_from_preset
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
BASE = "https://partner.example"
CREDENTIALS = {
    "token": "tok-1",
    "api_key": "key-1",
    "client_id": "cid",
    "client_secret": "client-secret-value-9",
}


def rest_connection(workspace, preset: str, **auth) -> Connection:
    options = {"preset": preset, **CREDENTIALS}
    options.update({k: None for k in ("api_key_header", "api_key_prefix", "auth_type")})
    options.update(auth)
    fields = connection_fields_from_preset(options)
    conn = ConnectionFactory(
        workspace=workspace, provider="rest", name=preset, slug=preset, base_url=BASE, **fields
    )
    apply_preset_mappings(conn, options)
    return conn


def body(call) -> dict:
    return json.loads(call.request.body)


def test_signage_preset_creates_updates_and_deletes_users(remote, workspace, actor):
    conn = rest_connection(workspace, "signage")
    remote.post(BASE + "/api/v1/users", json={"id": 77}, status=201)
    contact = ContactFactory(workspace=workspace, first_name="Ada", last_name="L", email="a@x.io")
    drain()
    create = remote.calls[0].request
    assert (create.method, create.url) == ("POST", BASE + "/api/v1/users")
    assert create.headers["X-API-Key"] == "key-1" and "Authorization" not in create.headers
    assert body(remote.calls[0]) == {
        "firstName": "Ada",
        "lastName": "L",
        "email": "a@x.io",
        "externalId": contact.public_id,
    }
    assert Link.objects.get(connection=conn, object_id=contact.pk).remote_id == "77"

    remote.put(BASE + "/api/v1/users/77", body="OK")  # not JSON: fine for an update
    contact_update(contact, actor=actor, data={"phone": "+15550100000"})
    drain()
    assert remote.calls[1].request.method == "PUT"
    assert body(remote.calls[1])["phone"] == "+15550100000"
    assert not OutboundChange.objects.exclude(status=ChangeStatus.DONE).exists()

    remote.delete(BASE + "/api/v1/users/77", status=204)
    contact_delete(contact, actor=actor)
    drain()
    assert (remote.calls[2].request.method, remote.calls[2].request.url) == (
        "DELETE",
        BASE + "/api/v1/users/77",
    )


def test_signage_finds_the_user_by_external_id_after_an_unknown_outcome(remote, workspace):
    conn = rest_connection(workspace, "signage")
    remote.post(BASE + "/api/v1/users", status=502)
    contact = ContactFactory(workspace=workspace)
    drain()
    remote.get(BASE + "/api/v1/users", json=[{"id": 5}])
    remote.put(BASE + "/api/v1/users/5", json={})
    row = OutboundChange.objects.get(connection=conn)
    OutboundChange.objects.filter(pk=row.pk).update(available_at=row.created_at)
    drain()
    find = remote.calls[1].request
    assert find.method == "GET" and f"externalId={contact.public_id}" in find.url
    assert remote.calls[2].request.method == "PUT"
    assert Link.objects.get(connection=conn).remote_id == "5"


def test_client_management_sets_lead_status_and_pipeline_on_create_only(remote, workspace, actor):
    rest_connection(workspace, "client-management")
    remote.post(BASE + "/api/contacts", json={"data": {"id": "c-1"}})
    contact = ContactFactory(workspace=workspace, first_name="Ada", last_name="Lovelace")
    drain()
    create = remote.calls[0].request
    assert create.headers["Authorization"] == "Bearer tok-1"
    assert body(remote.calls[0])["leadStatus"] == "new"
    assert body(remote.calls[0])["pipeline"] == "default"
    assert body(remote.calls[0])["name"] == "Ada Lovelace"
    remote.patch(BASE + "/api/contacts/c-1", json={})
    contact_update(contact, actor=actor, data={"first_name": "Augusta"})
    drain()
    assert remote.calls[1].request.method == "PATCH"
    assert "leadStatus" not in body(remote.calls[1])


def test_store_pushes_tasks_under_the_customer_with_oauth_client_credentials(
    remote, workspace, actor
):
    conn = rest_connection(workspace, "digital-goods-store")
    remote.post(BASE + "/oauth/token", json={"access_token": "at-1", "expires_in": 3600})
    remote.post(BASE + "/api/customers", json={"customer": {"id": "cu-1"}})
    remote.post(BASE + "/api/customers/cu-1/tasks", json={"id": "t-1"})
    contact = ContactFactory(workspace=workspace)
    drain()
    task_create(workspace=workspace, actor=actor, data={"contact": contact, "title": "Ship it"})
    drain()
    urls = [(c.request.method, c.request.url.removeprefix(BASE)) for c in remote.calls]
    assert urls == [
        ("POST", "/oauth/token"),
        ("POST", "/api/customers"),
        ("POST", "/api/customers/cu-1/tasks"),
    ]
    token_form = remote.calls[0].request.body
    assert (
        "grant_type=client_credentials" in token_form
        and "client_secret=client-secret-value-9" in token_form
    )
    assert remote.calls[1].request.headers["Authorization"] == "Bearer at-1"
    assert remote.calls[2].request.headers["Authorization"] == "Bearer at-1"  # token reused
    assert body(remote.calls[2])["title"] == "Ship it"
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM sync_connection WHERE id = %s", [conn.pk])
        stored = cursor.fetchone()[0]
    assert "at-1" not in stored and "client-secret-value-9" not in stored  # encrypted at rest


def test_oauth_token_is_renewed_after_a_401(remote, workspace):
    rest_connection(workspace, "digital-goods-store")
    remote.post(BASE + "/oauth/token", json={"access_token": "at-1", "expires_in": 3600})
    remote.post(BASE + "/api/customers", status=401)
    ContactFactory(workspace=workspace)
    drain()
    tokens = [c for c in remote.calls if c.request.url.endswith("/oauth/token")]
    assert len(tokens) == 2  # the first token, then a renewal after the 401


def test_a_child_waits_for_its_parent_contact_link(remote, workspace, actor):
    conn = rest_connection(workspace, "digital-goods-store")
    Connection.objects.filter(pk=conn.pk).update(contacts_direction="off")
    contact = ContactFactory(workspace=workspace)
    remote.post(BASE + "/oauth/token", json={"access_token": "at-1", "expires_in": 3600})
    task_create(workspace=workspace, actor=actor, data={"contact": contact, "title": "T"})
    drain()
    row = OutboundChange.objects.get(connection=conn, object_type="task")
    assert row.status == ChangeStatus.RETRYING and "not linked yet" in row.last_error


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ({"auth_type": "bearer"}, "Authorization", "Bearer tok-1"),
        ({"auth_type": "api_key"}, "X-API-Key", "key-1"),
        (
            {
                "auth_type": "api_key",
                "api_key_header": "Authorization",
                "api_key_prefix": "ApiKey ",
            },
            "Authorization",
            "ApiKey key-1",
        ),
        (
            {"auth_type": "basic"},
            "Authorization",
            "Basic " + base64.b64encode(b"cid:key-1").decode(),
        ),
    ],
)
def test_auth_header_formats(remote, workspace, auth, header, value):
    conn = rest_connection(workspace, "signage", **auth)
    remote.get(BASE + "/api/v1/users", json=[])
    assert connector_for(conn).test().ok
    assert remote.calls[0].request.headers[header] == value


@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, "failed"), (404, "failed"), (409, "retrying"), (429, "retrying"), (500, "retrying")],
)
def test_errors_are_classified_by_the_engine(remote, workspace, status, expected):
    conn = rest_connection(workspace, "signage")
    remote.post(BASE + "/api/v1/users", status=status)
    ContactFactory(workspace=workspace)
    drain()
    assert OutboundChange.objects.get(connection=conn).status == expected


def test_a_create_response_without_the_id_is_retried(remote, workspace):
    conn = rest_connection(workspace, "signage")
    remote.post(BASE + "/api/v1/users", json={"user": {}})
    ContactFactory(workspace=workspace)
    drain()
    row = OutboundChange.objects.get(connection=conn)
    assert row.status == ChangeStatus.RETRYING and "no id at 'id'" in row.last_error


def test_unconfigured_object_types_are_off_and_operations_unsupported(workspace):
    conn = rest_connection(workspace, "signage")
    assert conn.tasks_direction == "off" and conn.contacts_direction == "out"
    contact = ContactFactory(workspace=workspace)
    with pytest.raises(Exception, match="no path configured"):
        connector_for(conn).create_remote("task", {}, contact)


def test_missing_credentials_are_a_clear_error(workspace):
    with pytest.raises(ValueError, match="--client-id and --client-secret"):
        connection_fields_from_preset(
            {"preset": "digital-goods-store", "client_id": "", "client_secret": ""}
        )
    with pytest.raises(ValueError, match="No REST preset 'nope'"):
        connection_fields_from_preset({"preset": "nope"})


def test_presets_ship_with_the_paths_to_confirm(workspace):
    assert set(RestPreset.objects.values_list("slug", flat=True)) == {
        "signage",
        "client-management",
        "digital-goods-store",
    }
    signage = RestPreset.objects.get(slug="signage")
    assert "contact.create: POST /api/v1/users" in signage.paths_to_confirm()
    conn = rest_connection(workspace, "signage")
    assert conn.options["paths_to_confirm"] == signage.paths_to_confirm()
    assert FieldMapping.objects.filter(connection=conn).count() == 5


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([], "objects"),
        ({"objects": {"deal": {}}}, "Unknown object type"),
        ({"objects": {"contact": {"create": {"method": "FETCH", "path": "/x"}}}}, "method"),
        ({"objects": {"contact": {"create": {"method": "POST", "path": "x"}}}}, "start with"),
    ],
)
def test_bad_configs_are_refused(config, message):
    with pytest.raises(ValueError, match=message):
        validate_config(config)


def test_the_preset_admin_shows_paths_to_confirm_and_validates(admin_client):
    url = reverse("admin:sync_restpreset_changelist")
    page = admin_client.get(url).content.decode()
    assert "contact.create: POST /api/v1/users" in page
    preset = RestPreset.objects.get(slug="signage")
    config = copy.deepcopy(preset.config)
    config["objects"]["contact"]["create"]["path"] = "no-slash"
    response = admin_client.post(
        reverse("admin:sync_restpreset_change", args=[preset.pk]),
        {
            "slug": "signage",
            "name": preset.name,
            "description": "",
            "config": json.dumps(config),
            "mappings": json.dumps(preset.mappings),
        },
    )
    assert response.status_code == 200 and "must start with" in response.content.decode()
