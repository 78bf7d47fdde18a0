"""Real deliveries, not the documented examples (issue 14, item 6).

Integrators report that a real `TaskCreate` arrives without `contactId` and `body` although
the schema documents both. The task can be read only under its contact, so the location's task
search finds its contact; then the contact and the task are read and applied. Every request is
validated against the CRM's OpenAPI files (locations.json, contacts.json) by the `crm` fixture.
"""

import json

import pytest

from contacts.models import Contact, Task
from sync.models import InboundEvent, InboundStatus, Link
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.webhooks.conftest import LOCATION, now_iso, post_crm

pytestmark = pytest.mark.django_db
SEARCH = f"{CRM}/locations/{LOCATION}/tasks/search"


def real_task_create(task_id: str, title: str) -> dict:
    """Shaped like the reported deliveries: no contactId, no body."""
    return {
        "type": "TaskCreate", "locationId": LOCATION, "id": task_id, "title": title,
        "dateAdded": now_iso(), "dueDate": "2026-12-01T09:00:00.000Z",
        "webhookId": f"wh-{task_id}", "timestamp": now_iso(),
    }  # fmt: skip


def test_a_task_create_without_contact_is_resolved_through_the_task_search(
    client, run_inbound, crm, crm_connection
):
    other = {"id": "T0", "title": "Call back", "contactId": "C0"}
    found = {"id": "T7", "title": "Call back", "contactId": "C7", "body": "About the quote"}
    crm.post(SEARCH, json={"tasks": [other, found]})
    crm.get(f"{CRM}/contacts/C7", json={"contact": {"id": "C7", "firstName": "Quinn"}})
    crm.get(f"{CRM}/contacts/C7/tasks/T7", json={"task": {**found, "completed": False}})

    assert post_crm(client, real_task_create("T7", "Call back")).status_code == 200
    run_inbound()

    event = InboundEvent.objects.get(webhook_id="wh-T7")
    assert event.status == InboundStatus.PROCESSED, (event.result, event.error)
    task = Task.objects.get()
    assert (task.title, task.body, task.contact.first_name) == (
        "Call back",
        "About the quote",
        "Quinn",
    )
    assert Link.objects.get(object_type="contact", object_id=task.contact_id).remote_id == "C7"
    [search] = [c.request for c in crm.calls if c.request.url == SEARCH]
    assert json.loads(search.body) == {"limit": 100, "skip": 0, "query": "Call back"}


def test_the_search_pages_until_it_finds_the_task(client, run_inbound, crm, crm_connection):
    page = [{"id": f"X{i}", "title": "Other", "contactId": "C0"} for i in range(100)]
    found = {"id": "T8", "title": "Other", "contactId": "C8"}
    crm.post(SEARCH, json={"tasks": page})
    crm.post(SEARCH, json={"tasks": [found]})
    crm.get(f"{CRM}/contacts/C8", json={"contact": {"id": "C8", "firstName": "Pat"}})
    crm.get(f"{CRM}/contacts/C8/tasks/T8", json={"task": found})
    post_crm(client, real_task_create("T8", "Other"))
    run_inbound()
    assert Contact.objects.get().first_name == "Pat" and Task.objects.get().title == "Other"
    skips = [json.loads(c.request.body)["skip"] for c in crm.calls if c.request.url == SEARCH]
    assert skips == [0, 100]
