"""Mapping a CRM custom field by name: the form offers the location's list, the push carries
it in the CRM's shape beside the default fields (every request checked against the spec)."""

import json

import pytest
from django.core.cache import cache
from django.urls import reverse

from contacts.services import contact_update
from sync.engine.push import drain
from sync.models import FieldMapping
from tests.sync.factories import CRM_BASE_URL as CRM

pytestmark = pytest.mark.django_db
LIST = CRM + "/locations/ve9EPM428h8vShlRW1KT/customFields"
FIELDS = {"customFields": [{"id": "Fx1", "name": "Loyalty tier", "fieldKey": "contact.loyalty",
                            "dataType": "TEXT", "model": "contact"}]}  # fmt: skip


def _form_data(conn, **overrides) -> dict:
    data = {"connection": conn.pk, "object_type": "contact", "crm_custom_field": "",
            "mirror_field": "", "remote_path": "", "direction": "both", "transform": "",
            "argument": "", "position": 0}  # fmt: skip
    return {**data, **overrides}


def test_a_custom_field_picked_by_name_reaches_the_crm_with_the_other_fields(
    admin_client, crm, conn, linked_contact, actor
):
    cache.clear()
    crm.get(LIST, json=FIELDS)
    add_url = reverse("admin:sync_fieldmapping_add")
    page = admin_client.get(add_url, {"connection": conn.pk}).content.decode()
    assert "Loyalty tier (contact.loyalty)" in page
    response = admin_client.post(add_url, _form_data(conn, crm_custom_field="Fx1"))
    assert response.status_code == 302
    row = FieldMapping.objects.get(connection=conn)
    assert (row.mirror_field, row.remote_path) == ("custom_fields.loyalty", "customFields#Fx1")

    crm.put(CRM + "/contacts/C1", json={"succeded": True, "contact": {"id": "C1"}})
    contact_update(linked_contact, actor=actor,
                   data={"city": "Lyon", "custom_fields": {"loyalty": "gold"}})  # fmt: skip
    drain()
    body = json.loads(crm.calls[-1].request.body)
    assert body["city"] == "Lyon"
    assert body["customFields"] == [{"id": "Fx1", "field_value": "gold"}]
    # the list was read once (cached) for the form's two requests
    assert sum(1 for c in crm.calls if c.request.url.startswith(LIST)) == 1


def test_a_dotted_custom_field_path_is_a_form_error(admin_client, crm, conn):
    cache.clear()
    crm.get(LIST, json=FIELDS)
    data = _form_data(conn, mirror_field="custom_fields.loyalty", remote_path="customFields.x")
    page = admin_client.post(reverse("admin:sync_fieldmapping_add"), data).content.decode()
    assert "The CRM takes custom fields as a list" in page
    assert not FieldMapping.objects.exists()


def test_the_list_failing_leaves_the_path_to_type(admin_client, crm, conn):
    cache.clear()
    crm.get(LIST, status=401, json={"message": "Invalid JWT"})
    page = admin_client.get(reverse("admin:sync_fieldmapping_add"), {"connection": conn.pk})
    assert "could not be listed" in page.content.decode()
