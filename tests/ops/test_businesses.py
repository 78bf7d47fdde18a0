"""Businesses against the sandbox CRM: `backfill --business` reads one business's contacts,
a contact's business reaches the CRM, and partners filter contacts by business."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from contacts.models import Contact
from contacts.services import contact_update
from sandbox import businesses
from sync.engine.push import drain
from sync.models import Link
from tests import api_fixtures
from tests.api_fixtures import client_for
from tests.factories import TEST_ACTOR, ContactFactory

pytestmark = pytest.mark.django_db
make_key = api_fixtures.make_key


def put_in_business(crm, ids: list[str], business_id: str | None) -> None:
    body = {"locationId": crm.config.location_id, "ids": ids, "businessId": business_id}
    with crm.core.write_lock:
        businesses.set_business(crm.core, body)


def test_backfill_of_one_business(crm, conn):
    seeded = crm.seed_contacts(230)
    put_in_business(crm, [c["id"] for c in seeded[:205]], "B1")
    out = StringIO()
    call_command("backfill", "sandbox-crm", "--business", "B1", stdout=out)
    assert "created 205, updated 0" in out.getvalue(), out.getvalue()
    assert set(Contact.objects.values_list("business_id", flat=True)) == {"B1"}
    with pytest.raises(CommandError, match="not both"):
        call_command("backfill", "sandbox-crm", "--business", "B1", "--since", "1d")


def test_a_contacts_business_reaches_the_crm_and_partners_can_filter(crm, conn, make_key):
    contact = ContactFactory(workspace=conn.workspace, email="biz@example.com", business_id="B7")
    other = ContactFactory(workspace=conn.workspace, email="solo@example.com")
    drain()
    remote_id = Link.objects.get(object_id=contact.pk, object_type="contact").remote_id
    assert crm.get_contact(remote_id)["businessId"] == "B7"
    contact_update(contact, actor=TEST_ACTOR, data={"business_id": ""})
    drain()
    assert crm.get_contact(remote_id)["businessId"] is None

    contact_update(other, actor=TEST_ACTOR, data={"business_id": "B9"})
    api = client_for(make_key(scopes=["contacts.readonly"])[1])
    listed = api.get("/api/v1/contacts/", {"business": "B9"}).json()["results"]
    assert [c["id"] for c in listed] == [other.public_id] and listed[0]["business_id"] == "B9"
    assert api.get("/api/v1/contacts/", {"business": "x" * 65}).status_code == 400
