"""A list page converts its objects without DRF's per-object field walk (contacts/api/rows.py):
each row is still exactly what the object shows alone, for every mirror type, every kind of
field (relations, dates, JSON, nulls, a tombstone) and the sync states."""

import datetime
import gc

import pytest
from django.utils import timezone
from rest_framework import serializers

from contacts.api.rows import model_row_converter, row_converter
from contacts.api.serializers import ContactOutput, SyncStateOutput
from contacts.models import Contact
from contacts.services import contact_delete
from sync.models import Link
from tests.factories import (
    TEST_ACTOR,
    AppointmentFactory,
    ContactFactory,
    CrmUserFactory,
    NoteFactory,
    TaskFactory,
)
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(workspace):
    crm = ConnectionFactory(workspace=workspace, slug="crm")
    ConnectionFactory(workspace=workspace, slug="crm-b", company_id="comp-b")
    user = CrmUserFactory(workspace=workspace, permissions={"contacts": ["read"]},
                          location_ids=["loc1"], phone="+15550100001")  # fmt: skip
    full = ContactFactory(
        workspace=workspace, assigned_user=user, tags=["vip", "lead"],
        custom_fields={"plan": "gold", "seats": 3}, date_of_birth=datetime.date(1990, 1, 2),
        dnd=True, country="DE", website="https://example.com", timezone="Europe/Berlin",
        phone="+15550100002", company_name="Acme", external_id="ext-1", business_id="biz-1",
    )  # fmt: skip
    ContactFactory(workspace=workspace, email="", first_name="", last_name="")
    contact_delete(ContactFactory(workspace=workspace), actor=TEST_ACTOR)
    TaskFactory(workspace=workspace, contact=full, assigned_user=user, body="Call")
    NoteFactory(workspace=workspace, contact=full, author=user)
    later = timezone.now() + datetime.timedelta(days=3)
    AppointmentFactory(workspace=workspace, contact=full, assigned_user=user, end_time=later)
    Link.objects.create(connection=crm, object_type="contact", object_id=full.pk,
                        remote_id="R1", last_pushed_at=timezone.now())  # fmt: skip
    return full


@pytest.mark.parametrize("resource", ["users", "contacts", "tasks", "notes", "appointments"])
def test_a_list_page_shows_each_object_as_it_shows_alone(api, world, resource):
    page = api.get(f"/api/v1/{resource}/?include_deleted=true")
    assert page.status_code == 200, page.content
    rows = page.json()["results"]
    assert rows
    for row in rows:
        assert row == api.get(f"/api/v1/{resource}/{row['id']}/").json()
    if resource == "contacts":
        assert any(row["deleted_at"] for row in rows)
        assert any(len(row["sync"]) == 2 for row in rows)


def test_a_pages_objects_are_freed_without_the_cyclic_garbage_collector(api, world):
    """DRF's view, request and serializers refer to each other: a page they held lived until a
    full collection, which walked it again (that was the slowest percent of list requests)."""
    gc.collect()
    gc.disable()
    try:
        before = {id(obj) for obj in _contacts_in_memory()}
        page = api.get("/api/v1/contacts/?include_deleted=true").json()["results"]
        left = [obj for obj in _contacts_in_memory() if id(obj) not in before]
    finally:
        gc.enable()
    assert len(page) == 3
    assert left == []


def _contacts_in_memory() -> list[Contact]:
    return [obj for obj in gc.get_objects() if type(obj) is Contact]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_a_row_is_what_drf_gives_for_each_field(world, zone):
    with timezone.override(zone):
        converted, drf = ContactOutput(), ContactOutput()
        converted.sync_states = drf.sync_states = {}
        convert = model_row_converter(converted)
        assert convert != converted.to_representation  # every field is read the fast way
        row = convert(world)
        assert row == drf.to_representation(world)
    assert row["created_at"].endswith("Z" if zone == "UTC" else "+05:30")


@pytest.mark.parametrize("synced_at", [None, timezone.now()])
def test_a_sync_state_row_is_what_drf_gives(synced_at):
    state = {"connection": "crm", "provider": "highlevel", "remote_id": "R1",
             "status": "done", "last_error": "", "synced_at": synced_at}  # fmt: skip
    output = SyncStateOutput()
    convert = row_converter(output, state.keys(), by_key=True)
    assert convert(state) == output.to_representation(state)


def test_a_field_read_through_a_path_is_left_to_drf(world):
    class Nested(serializers.Serializer):
        workspace_name = serializers.CharField(source="workspace.name")

    serializer = Nested()
    convert = row_converter(serializer, {"workspace"})
    assert convert == serializer.to_representation
    assert convert(world) == {"workspace_name": world.workspace.name}
