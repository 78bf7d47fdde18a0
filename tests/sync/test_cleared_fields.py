"""Cleared fields reach the CRM: an update sends each field the change emptied, in the form the
CRM's update DTO accepts (null where nullable, "" or [] otherwise); creates still omit empties.
Every request is validated against the CRM's OpenAPI files by the `crm` fixture."""

import json

import pytest

from contacts.services import contact_update, task_update
from sync.engine.push import drain
from sync.models import ChangeStatus, Link, OutboundChange
from tests.factories import ContactFactory, CrmUserFactory, TaskFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conn(workspace):
    return ConnectionFactory(workspace=workspace)


@pytest.fixture
def pushed(crm, conn, workspace):
    """A contact with a phone and a company, created in the CRM as R1."""
    crm.post(CRM + "/contacts/", json={"contact": {"id": "R1"}}, status=201)
    crm.put(CRM + "/contacts/R1", json={"succeded": True, "contact": {"id": "R1"}})
    contact = ContactFactory(
        workspace=workspace, email="ada@example.com", phone="+15550100000", company_name="ACME"
    )
    drain()
    return contact


def sent(crm, method: str) -> list[dict]:
    return [json.loads(c.request.body) for c in crm.calls if c.request.method == method]


def test_clearing_phone_and_company_sends_them_cleared(crm, pushed, actor):
    created = sent(crm, "POST")[0]
    assert created["phone"] == "+15550100000" and "website" not in created  # empties omitted
    contact_update(pushed, actor=actor, data={"phone": "", "company_name": ""})
    drain()
    [update] = sent(crm, "PUT")
    assert update["phone"] is None and update["companyName"] is None  # nullable in the spec
    assert "email" not in update  # only what changed: the CRM's own changes are never undone
    # Fields that were empty all along are not sent: a value the CRM set meanwhile survives.
    assert "website" not in update and "city" not in update


def test_a_clear_survives_coalescing_with_a_later_change(crm, pushed, actor):
    contact = contact_update(pushed, actor=actor, data={"phone": ""})[0]
    contact_update(contact, actor=actor, data={"first_name": "Augusta"})
    assert drain()["processed"] == 1
    [update] = sent(crm, "PUT")
    assert update["phone"] is None and update["firstName"] == "Augusta"
    done = OutboundChange.objects.get(status=ChangeStatus.DONE, audit_action="update")
    assert {"phone", "first_name"} <= set(done.changed_fields)


def test_a_clear_is_kept_across_a_retry(crm, pushed, actor):
    crm.replace("PUT", CRM + "/contacts/R1", status=503)
    contact_update(pushed, actor=actor, data={"company_name": ""})
    drain()
    crm.replace("PUT", CRM + "/contacts/R1", json={"succeded": True})
    OutboundChange.objects.update(available_at="2000-01-01T00:00:00Z")
    drain()
    updates = sent(crm, "PUT")
    assert len(updates) == 2 and all(u["companyName"] is None for u in updates)


def test_clearing_a_non_nullable_field_sends_its_empty_form(crm, conn, workspace, actor):
    contact = ContactFactory(workspace=workspace, tags=["vip"], postal_code="35061")
    Link.objects.create(
        connection=conn, object_type="contact", object_id=contact.pk, remote_id="C1"
    )
    OutboundChange.objects.all().delete()
    crm.post(CRM + "/contacts/C1/tasks", json={"task": {"id": "T1"}}, status=201)
    crm.put(CRM + "/contacts/C1/tasks/T1", json={"task": {"id": "T1"}})
    crm.put(CRM + "/contacts/C1", json={"succeded": True})
    task = TaskFactory(workspace=workspace, contact=contact, body="Bring the invoice")
    drain()
    task_update(task, actor=actor, data={"body": ""})
    contact_update(contact, actor=actor, data={"tags": [], "postal_code": ""})
    drain()
    task_put, contact_put = sent(crm, "PUT")
    assert task_put["body"] == ""  # UpdateTaskBody: a string, not nullable
    assert contact_put["tags"] == [] and contact_put["postalCode"] == ""


def test_an_unchanged_state_still_sends_nothing(crm, pushed, actor):
    contact_update(pushed, actor=actor, data={"external_id": "not-mapped"})
    drain()
    assert sent(crm, "PUT") == []


def test_an_unassigned_contact_is_unassigned_but_an_unlinked_user_is_no_clear(
    crm, conn, workspace, actor
):
    linked, unlinked = CrmUserFactory(workspace=workspace), CrmUserFactory(workspace=workspace)
    Link.objects.create(connection=conn, object_type="user", object_id=linked.pk, remote_id="U1")
    contact = ContactFactory(workspace=workspace, assigned_user=linked)
    Link.objects.create(
        connection=conn, object_type="contact", object_id=contact.pk, remote_id="C1"
    )
    OutboundChange.objects.all().delete()
    crm.put(CRM + "/contacts/C1", json={"succeded": True})
    contact = contact_update(contact, actor=actor, data={"assigned_user": unlinked})[0]
    OutboundChange.objects.filter(connection__provider="highlevel", object_type="user").delete()
    drain()
    contact_update(contact, actor=actor, data={"assigned_user": None})
    drain()
    # Its user is not in the CRM yet: nothing to clear, and (only that changed) nothing to send.
    [to_nobody] = sent(crm, "PUT")
    assert to_nobody == {"assignedTo": None}
