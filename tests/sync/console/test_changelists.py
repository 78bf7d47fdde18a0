"""Changelists name their records; read-only models have no Add/Save and plain titles; the
timeline sits beside its record (the sidebar highlights the record's model)."""

import pytest
from django.urls import reverse

from portal.audit import MASK
from sync.models import DeliveryAttempt, OutboundChange
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def row(workspace):
    conn = ConnectionFactory(workspace=workspace, name="Main CRM")
    contact = ContactFactory(workspace=workspace, first_name="Ada", last_name="Lovelace")
    change = OutboundChange.objects.get(object_id=contact.pk)
    call = {"method": "POST", "path": "/contacts/", "status_code": 422, "outcome": "permanent"}
    DeliveryAttempt.objects.create(connection=conn, change=change, **call)
    return contact, change


@pytest.mark.parametrize("name", ["outboundchange", "deliveryattempt"])
def test_outbox_and_attempt_rows_name_their_record(admin_client, row, name):
    contact, _change = row
    page = admin_client.get(reverse(f"admin:sync_{name}_changelist")).content.decode()
    assert "Contact Ada Lovelace" in page and contact.public_id in page
    assert reverse("admin:contacts_contact_change", args=[contact.pk]) in page
    assert reverse("record_timeline", args=["contact", contact.pk]) in page
    assert "Contact 4" not in page


def test_the_changelist_names_records_in_one_query_per_type(
    admin_client, row, workspace, django_assert_max_num_queries
):
    for _ in range(10):
        ContactFactory(workspace=workspace)
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("admin:sync_outboundchange_changelist"))


@pytest.mark.parametrize(
    "name", ["sync_outboundchange", "sync_deliveryattempt", "portal_auditentry"]
)
def test_read_only_models_have_no_add_or_save_and_plain_titles(admin_client, row, name):
    from django.apps import apps

    app, model = name.split("_", 1)
    plural = apps.get_model(app, model)._meta.verbose_name_plural.capitalize()
    listing = admin_client.get(reverse(f"admin:{name}_changelist")).content.decode()
    assert f"<h1>{plural}</h1>" in listing and "to change</h1>" not in listing
    assert "addlink" not in listing.split('id="content-main"')[1].split("</ul>")[0]
    first = apps.get_model(app, model).objects.order_by("pk").first()
    page = admin_client.get(reverse(f"admin:{name}_change", args=[first.pk])).content.decode()
    assert 'name="_save"' not in page and "Change " not in page.split("<h1>")[1][:40]


def test_masked_secrets_render_as_bullets(admin_client, workspace):
    from portal.audit import record_change
    from portal.models import AuditEntry
    from tests.conftest import TEST_ACTOR

    conn = ConnectionFactory(workspace=workspace)
    record_change(actor=TEST_ACTOR, action="update", instance=conn,
                  changes={"credentials": ["old", "new"]})  # fmt: skip
    entry = AuditEntry.objects.filter(object_type__icontains="connection").latest("id")
    page = admin_client.get(reverse("admin:portal_auditentry_change", args=[entry.pk]))
    text = page.content.decode()
    assert MASK in text and "\\u2022" not in text


def test_the_timeline_highlights_its_records_model_in_the_sidebar(admin_client, row):
    contact, _change = row
    page = admin_client.get(reverse("record_timeline", args=["contact", contact.pk]))
    html = page.content.decode()
    current = html.split("current-model")[0].rsplit("<tr", 1)[1]
    assert "model-contact" in current
