"""The admin's editors: rule conditions (AND/OR groups), mapping arguments, tags and custom
fields — what they store, and bad input as a form error."""

import json

import pytest
from django.urls import reverse

from contacts.models import Contact
from sync.console.editors import from_editor, to_editor
from sync.mapping.rules import matches
from sync.models import FieldMapping, Rule
from tests.contacts.test_admin import _contact_form
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory, RuleFactory

pytestmark = pytest.mark.django_db
VIP_IN_PARIS_OR_LYON = {
    "match": "AND",
    "conditions": [{"field": "tags", "operator": "ANY_IN", "value": '["vip"]'}],
    "groups": [{"match": "OR", "conditions": [
        {"field": "city", "operator": "EQUAL", "value": "Paris"},
        {"field": "city", "operator": "EQUAL", "value": "Lyon"}]}],
}  # fmt: skip


def test_the_editor_shape_round_trips_to_the_evaluated_shape():
    stored = from_editor(VIP_IN_PARIS_OR_LYON)
    paris = {"field": "city", "operator": "EQUAL", "value": "Paris"}
    lyon = {"field": "city", "operator": "EQUAL", "value": "Lyon"}
    vip = {"field": "tags", "operator": "ANY_IN", "value": ["vip"]}
    assert stored == {"op": "AND", "conditions": [vip, {"op": "OR", "conditions": [paris, lyon]}]}
    assert to_editor(stored) == VIP_IN_PARIS_OR_LYON
    assert matches(stored, {"tags": ["vip"], "city": "Lyon"})
    assert not matches(stored, {"tags": ["vip"], "city": "Nice"})
    deeper = {
        "op": "AND",
        "conditions": [{"op": "OR", "conditions": [{"op": "AND", "conditions": []}]}],
    }
    assert to_editor(deeper) is None  # shown as raw JSON instead, so nothing is lost


def _rule_form(conn, conditions) -> dict:
    return {"connection": conn.pk, "name": "VIPs", "object_type": "contact", "kind": "filter",
            "conditions": json.dumps(conditions), "action": "", "action_argument": "",
            "active": "on", "position": 0}  # fmt: skip


def test_a_rule_built_in_the_editor_is_saved_and_a_bad_operator_is_a_form_error(admin_client):
    conn = ConnectionFactory()
    url = reverse("admin:sync_rule_add")
    page = admin_client.get(url).content.decode()
    assert "data-django-jsonform" in page and "ANY_IN" in page and 'style="display' not in page
    assert admin_client.post(url, _rule_form(conn, VIP_IN_PARIS_OR_LYON)).status_code == 302
    assert Rule.objects.get().conditions == from_editor(VIP_IN_PARIS_OR_LYON)
    bad = {**VIP_IN_PARIS_OR_LYON, "conditions": [{"field": "tags", "operator": "HAS"}]}
    response = admin_client.post(url, _rule_form(conn, bad))
    assert response.status_code == 200 and "Unknown operator" in response.content.decode()
    assert Rule.objects.count() == 1


def test_a_deeply_nested_rule_keeps_its_raw_json(admin_client):
    city = {"field": "city", "operator": "EQUAL", "value": "x"}
    deeper = {"op": "AND", "conditions": [{"op": "OR", "conditions": [{"conditions": [city]}]}]}
    rule = RuleFactory(conditions=deeper)
    page = admin_client.get(reverse("admin:sync_rule_change", args=[rule.pk])).content.decode()
    assert "data-django-jsonform" not in page and "&quot;op&quot;" in page


def _mapping_form(conn, **fields) -> dict:
    data = {"connection": conn.pk, "object_type": "contact", "crm_custom_field": "",
            "mirror_field": "gender", "remote_path": "sex", "direction": "both",
            "transform": "value_map", "argument_text": "", "value_map": "",
            "position": 0}  # fmt: skip
    return {**data, **fields}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"value_map": ""}, "A value map needs at least one row"),
        ({"transform": "date", "argument_text": "dd/mm"}, "strftime codes"),
        ({"transform": "constant", "mirror_field": ""}, "A constant needs the value"),
        ({"transform": "", "argument_text": "x"}, "takes no argument"),
    ],
)
def test_a_mapping_argument_that_does_not_fit_its_transform_is_a_form_error(
    admin_client, fields, error
):
    conn = ConnectionFactory(provider="rest", base_url="https://p.example")
    response = admin_client.post(
        reverse("admin:sync_fieldmapping_add"), _mapping_form(conn, **fields)
    )
    assert error in response.content.decode()
    assert not FieldMapping.objects.exists()


def test_a_value_map_is_stored_as_the_argument(admin_client):
    conn = ConnectionFactory(provider="rest", base_url="https://p.example")
    data = _mapping_form(conn, value_map=json.dumps({"female": "F", "male": "M"}))
    assert admin_client.post(reverse("admin:sync_fieldmapping_add"), data).status_code == 302
    assert FieldMapping.objects.get().argument == {"female": "F", "male": "M"}


def test_tags_and_custom_fields_editors_clean_input_and_keep_value_types(admin_client, workspace):
    contact = ContactFactory(workspace=workspace, custom_fields={"visits": 3, "tier": "gold"})
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    page = admin_client.get(url).content.decode()
    assert page.count("data-django-jsonform=") == 2
    data = _contact_form(workspace, last_name=contact.last_name,
                         tags=json.dumps([" vip ", "vip", "", "gold"]),
                         custom_fields=json.dumps({"visits": "4", "tier": "silver"}))  # fmt: skip
    assert admin_client.post(url, data).status_code == 302
    contact = Contact.objects.get(pk=contact.pk)
    assert contact.tags == ["vip", "gold"]
    assert contact.custom_fields == {"visits": 4, "tier": "silver"}
    bad = _contact_form(workspace, tags=json.dumps({"not": "a list"}))
    response = admin_client.post(url, bad)
    assert "tags" in response.context["adminform"].form.errors
