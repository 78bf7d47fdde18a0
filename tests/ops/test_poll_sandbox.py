"""The poll against the sandbox CRM (its search by dateUpdated, webhooks not delivered): what
the CRM changed reaches the mirror with the next poll; every request matches the CRM's spec."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact
from ops import tasks
from ops.models import PollCheckpoint
from sync.engine import queue

pytestmark = pytest.mark.django_db


def test_changes_whose_webhooks_never_came_arrive_with_the_next_poll(crm, conn, sent, monkeypatch):
    queued = []
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: queued.append(args))
    first = crm.create_contact(firstName="Ada", email="ada@example.com")
    now = timezone.now()
    assert tasks.poll_due(now=now) == 1
    tasks.poll_connection(queued.pop()[1])
    assert Contact.objects.get().first_name == "Ada"

    crm.update_contact(first["id"], city="Porto", dnd=True)  # the sandbox sends no webhook here
    second = crm.create_contact(firstName="Bo", email="bo@example.com")
    assert tasks.poll_due(now=now + timedelta(minutes=5, seconds=1)) == 1
    tasks.poll_connection(queued.pop()[1])
    ada = Contact.objects.get(email="ada@example.com")
    assert (ada.city, ada.dnd) == ("Porto", True)
    assert Contact.objects.filter(email=second["email"]).exists()
    checkpoint = PollCheckpoint.objects.get(connection=conn)
    assert (checkpoint.created, checkpoint.updated, checkpoint.last_error) == (2, 1, "")
    assert set(sent) == {"/contacts/search"}
