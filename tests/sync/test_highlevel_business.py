"""A contact's business both ways with the CRM (requests checked against the CRM's spec): set
and cleared with POST /contacts/bulk/business, listed with GET /contacts/business/{id}."""

import json

import pytest

from contacts.services import contact_update
from sync.connectors import connector_for
from sync.engine.push import drain
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM

pytestmark = pytest.mark.django_db


def calls(crm) -> list[tuple[str, str, dict | None]]:
    return [
        (c.request.method, c.request.url.removeprefix(CRM).split("?")[0],
         json.loads(c.request.body) if c.request.body else None)
        for c in crm.calls
    ]  # fmt: skip


def test_business_is_set_on_create_and_changed_and_cleared_on_update(crm, conn, workspace, actor):
    crm.post(CRM + "/contacts/", json={"contact": {"id": "C9"}}, status=201)
    crm.put(CRM + "/contacts/C9", json={"succeded": True, "contact": {"id": "C9"}})
    crm.post(CRM + "/contacts/bulk/business", json={"success": True, "ids": ["C9"]})
    contact = ContactFactory(workspace=workspace, business_id="B1")
    drain()
    contact = contact_update(contact, actor=actor, data={"business_id": "B2"})[0]
    drain()
    contact_update(contact, actor=actor, data={"city": "Porto"})
    drain()
    contact_update(contact, actor=actor, data={"business_id": ""})
    drain()
    sent = calls(crm)
    assert "businessId" not in sent[0][2]  # not in CreateContactDto
    business = [body for method, path, body in sent if path == "/contacts/bulk/business"]
    location = conn.location_id
    assert business == [
        {"locationId": location, "ids": ["C9"], "businessId": "B1"},
        {"locationId": location, "ids": ["C9"], "businessId": "B2"},
        {"locationId": location, "ids": ["C9"], "businessId": None},
    ]


def test_contacts_of_a_business_are_paged_by_skip(crm, conn):
    page1 = [{"id": f"C{i}", "locationId": conn.location_id} for i in range(100)]
    url = CRM + "/contacts/business/B1"
    crm.get(url, json={"contacts": page1, "count": 130})
    crm.get(url, json={"contacts": page1[:30], "count": 130})
    connector = connector_for(conn)
    first = connector.fetch_page("contact", {"businessId": "B1"})
    assert len(first.items) == 100 and first.total == 130
    assert first.next_cursor == {"businessId": "B1", "skip": 100}
    second = connector.fetch_page("contact", first.next_cursor)
    assert second.next_cursor is None
    assert "skip=100" in crm.calls[1].request.url and "limit=100" in crm.calls[1].request.url
