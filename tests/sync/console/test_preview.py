"""'Test against this record': the payload a connection would get, and each rule's verdict."""

import json

import pytest
from django.urls import reverse

from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory, FieldMappingFactory, RuleFactory

pytestmark = pytest.mark.django_db
VIP_ONLY = {"op": "AND", "conditions": [{"field": "tags", "operator": "ANY_IN", "value": ["vip"]}]}


@pytest.fixture
def conn(workspace):
    return ConnectionFactory(workspace=workspace, dry_run=True)


def _preview(admin_client, conn, **params) -> str:
    url = reverse("admin:sync_connection_preview", args=[conn.pk])
    return admin_client.get(url, params).content.decode()


def test_preview_shows_the_mapped_payload_and_rule_verdicts(admin_client, conn, workspace):
    FieldMappingFactory(connection=conn, mirror_field="email", remote_path="person.mail")
    FieldMappingFactory(
        connection=conn,
        mirror_field="first_name,last_name",
        remote_path="person.name",
        transform="name",
    )
    RuleFactory(connection=conn, name="VIP only", conditions=VIP_ONLY)
    contact = ContactFactory(
        workspace=workspace,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        tags=["vip"],
    )
    page = _preview(admin_client, conn, object_type="contact", record=contact.public_id)
    start = page.index('id="preview-payload">') + len('id="preview-payload">')
    payload = json.loads(page[start : page.index("</pre>", start)].replace("&quot;", '"'))
    # The rows override the e-mail default and add a name; the other defaults stay.
    assert payload == {
        "person": {"mail": "ada@example.com", "name": "Ada Lovelace"},
        "firstName": "Ada",
        "lastName": "Lovelace",
        "tags": ["vip"],
        "dnd": False,
    }
    assert "override" in page and "added" in page and "default" in page
    assert "would be sent" in page and "VIP only" in page and "passes" in page


def test_preview_says_which_rule_excludes_the_record(admin_client, conn, workspace):
    RuleFactory(connection=conn, name="VIP only", conditions=VIP_ONLY)
    contact = ContactFactory(workspace=workspace, tags=[])
    page = _preview(admin_client, conn, object_type="contact", record=str(contact.pk))
    assert "would not be sent" in page and "excludes the record" in page
    assert "badge origin default" in page and "badge origin added" not in page  # code defaults


def test_preview_bad_input_is_a_form_error(admin_client, conn, workspace):
    other = ContactFactory()  # another workspace
    page = _preview(admin_client, conn, object_type="contact", record=other.public_id)
    assert "No contact" in page and "in the workspace of" in page
    page = _preview(admin_client, conn, object_type="spaceship", record="1")
    assert "Select a valid choice" in page
    assert 'id="preview-payload"' not in _preview(admin_client, conn)


def test_mapping_and_rule_pages_link_to_the_preview(admin_client, conn):
    rule = RuleFactory(connection=conn)
    mapping = FieldMappingFactory(connection=conn, mirror_field="email", remote_path="email")
    url = reverse("admin:sync_connection_preview", args=[conn.pk])
    for page in (
        reverse("admin:sync_rule_change", args=[rule.pk]),
        reverse("admin:sync_fieldmapping_change", args=[mapping.pk]),
        reverse("admin:sync_rule_changelist"),
        reverse("admin:sync_connection_change", args=[conn.pk]),
    ):
        assert url in admin_client.get(page).content.decode()
