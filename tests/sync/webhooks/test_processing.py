"""Each documented CRM example, signed and delivered, does the right thing to the mirror."""

import datetime
import json

import pytest
from django.db import connection

from contacts.models import Appointment, Contact, CrmUser, Note, Task
from sync.models import InboundEvent, InboundStatus, Link
from tests.factories import ContactFactory, TaskFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.webhooks.conftest import LOCATION, example, now_iso, post_crm

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(client, run_inbound):
    def deliver(body: dict, expected_status: str = InboundStatus.PROCESSED) -> InboundEvent:
        assert post_crm(client, body).status_code == 200
        run_inbound()
        event = InboundEvent.objects.get(webhook_id=body["webhookId"])
        assert event.status == expected_status, (event.result, event.error)
        return event

    return deliver


def crm_contact(crm, remote_id: str, **fields) -> None:
    record = {"id": remote_id, "locationId": LOCATION, "firstName": "Fetched", **fields}
    crm.get(f"{CRM}/contacts/{remote_id}", json={"contact": record})


def linked(connection, object_type: str, remote_id: str):
    link = Link.objects.get(connection=connection, object_type=object_type, remote_id=remote_id)
    return link.object_id


def test_contact_create_update_dnd_tag_delete(deliver, crm_connection):
    deliver(example("ContactCreate"))
    contact = Contact.objects.get(pk=linked(crm_connection, "contact", "nmFmQEsNgz6AVpgLVUJ0"))
    assert (contact.first_name, contact.last_name, contact.email) == (
        "John",
        "Deo",
        "JohnDeo@gmail.comm",
    )
    assert contact.phone == "+919509597501" and contact.country == "DE" and contact.dnd
    assert contact.date_of_birth == datetime.date(2000, 1, 5)
    assert contact.tags == ["id magna sed Lorem", "Duis dolor commodo aliqua"]
    assert contact.custom_fields == {"BcdmQEsNgz6AVpgLVUJ0": "XYZ Corp"}
    assert contact.source_updated_at == datetime.datetime(
        2021, 11, 26, 12, 41, 2, 193000, tzinfo=datetime.UTC
    )

    # Every event carries the contact's whole current state.
    state = {"firstName": "Johnny", "city": "Berlin"}
    deliver(example("ContactUpdate", **state))
    deliver(example("ContactDndUpdate", **state, dnd=False))
    deliver(example("ContactTagUpdate", **state, dnd=False, tags=["vip"]))
    contact.refresh_from_db()
    assert (contact.first_name, contact.city, contact.dnd, contact.tags) == (
        "Johnny",
        "Berlin",
        False,
        ["vip"],
    )
    deliver(example("ContactDelete"))
    contact.refresh_from_db()
    assert contact.is_deleted


def test_task_create_fetches_the_unknown_contact_then_complete_and_delete(
    deliver, crm, crm_connection
):
    crm_contact(crm, "CWBf1PR9LvvBkcYqiXlc", email="fetched@example.com")
    deliver(example("TaskCreate"))
    task = Task.objects.get(pk=linked(crm_connection, "task", "UlRWGLSXh0ji5qbiGu4i"))
    assert (task.title, task.body, task.completed) == ("Loram ipsum", "Loram ipsum", False)
    assert task.contact.email == "fetched@example.com"
    assert task.contact.pk == linked(crm_connection, "contact", "CWBf1PR9LvvBkcYqiXlc")

    deliver(example("TaskComplete", id="UlRWGLSXh0ji5qbiGu4i", contactId="CWBf1PR9LvvBkcYqiXlc"))
    task.refresh_from_db()
    assert task.completed and task.title == "test"
    deliver(example("TaskDelete"))
    task.refresh_from_db()
    assert task.is_deleted


def test_task_complete_example_creates_a_completed_task(deliver, crm, crm_connection):
    crm_contact(crm, "WFwVrSSjZ2CNHbZThQX2")
    deliver(example("TaskComplete"))
    task = Task.objects.get(pk=linked(crm_connection, "task", "5HrB1IbmnKMBXloldFuP"))
    assert task.completed and task.title == "test"


def test_a_task_create_without_contact_or_body_fetches_the_task(deliver, crm, crm_connection):
    contact = ContactFactory(workspace=crm_connection.workspace)
    Link.objects.create(connection=crm_connection, object_type="contact", object_id=contact.pk,
                        remote_id="C1")  # fmt: skip
    task = TaskFactory(workspace=crm_connection.workspace, contact=contact, title="Old")
    Link.objects.create(connection=crm_connection, object_type="task", object_id=task.pk,
                        remote_id="T1")  # fmt: skip
    crm.get(
        f"{CRM}/contacts/C1/tasks/T1",
        json={"task": {"id": "T1", "title": "From the CRM", "body": "full", "contactId": "C1"}},
    )
    body = example("TaskCreate", id="T1", title="From the CRM", dateAdded=now_iso())
    del body["contactId"], body["body"]
    deliver(body)
    task.refresh_from_db()
    assert (task.title, task.body) == ("From the CRM", "full")


def test_a_task_with_a_contact_but_no_title_is_fetched_before_it_is_created(
    deliver, crm, crm_connection
):
    crm_contact(crm, "C9")
    crm.get(
        f"{CRM}/contacts/C9/tasks/T9",
        json={"task": {"id": "T9", "title": "Call back", "contactId": "C9"}},
    )
    body = example("TaskCreate", id="T9", contactId="C9")
    del body["title"], body["body"]
    deliver(body)
    assert Task.objects.get().title == "Call back"


def test_an_unknown_task_without_contact_is_ignored_not_failed(deliver, crm, crm_connection):
    crm.post(f"{CRM}/locations/{LOCATION}/tasks/search", json={"tasks": []})
    body = example("TaskCreate")
    del body["contactId"], body["title"]
    event = deliver(body, InboundStatus.IGNORED)
    assert "reconciliation" in event.result and not Task.objects.exists()


def test_note_create_update_delete(deliver, crm, crm_connection):
    crm_contact(crm, "CWBf1PR9LvvBkcYqiXlc")
    deliver(example("NoteCreate"))
    note = Note.objects.get(pk=linked(crm_connection, "note", "otg8dTQqGLh3Q6iQI55w"))
    assert note.body == "Loram ipsum"
    deliver(example("NoteUpdate", body="Edited"))
    note.refresh_from_db()
    assert note.body == "Edited"
    deliver(example("NoteDelete"))
    note.refresh_from_db()
    assert note.is_deleted


def test_appointment_create_update_delete(deliver, crm, appointment_connection):
    record = {"id": "9NkT25Vor1v4aQatFsv2", "locationId": "0007BWpSzSwfiuSl0tR2"}
    crm.get(f"{CRM}/contacts/9NkT25Vor1v4aQatFsv2", json={"contact": record})
    deliver(example("AppointmentCreate"))
    appointment = Appointment.objects.get()
    assert appointment.workspace == appointment_connection.workspace
    assert (appointment.title, appointment.status, appointment.calendar_id) == (
        "Appointment with GHL Dev team",
        "confirmed",
        "BqTwX8QFwXzpegMve9EQ",
    )
    assert appointment.start_time == datetime.datetime(2023, 9, 25, 10, 30, tzinfo=datetime.UTC)
    changed = dict(example("AppointmentUpdate")["appointment"], title="Moved",
                   dateUpdated="2023-09-26T10:00:00Z")  # fmt: skip
    deliver(example("AppointmentUpdate", appointment=changed))
    appointment.refresh_from_db()
    assert appointment.title == "Moved"
    deliver(example("AppointmentDelete"))
    appointment.refresh_from_db()
    assert appointment.is_deleted


def test_user_create(deliver, crm_connection):
    deliver(example("UserCreate"))
    user = CrmUser.objects.get()
    assert (user.email, user.role, user.location_ids) == (
        "john.doe+3@example.com",
        "admin",
        [LOCATION],
    )
    assert user.workspace == crm_connection.workspace


def test_a_fetch_the_crm_refuses_fails_the_event_with_the_reason(deliver, crm, crm_connection):
    crm.get(f"{CRM}/contacts/CWBf1PR9LvvBkcYqiXlc", status=404, json={"message": "gone"})
    event = deliver(example("NoteCreate"), InboundStatus.FAILED)
    assert "404" in event.error or "CRM" in event.error
    assert not Note.objects.exists()


def test_a_fetch_that_fails_for_now_is_retried_later(deliver, crm, crm_connection):
    crm.get(f"{CRM}/contacts/CWBf1PR9LvvBkcYqiXlc", status=503)
    event = deliver(example("NoteCreate"), InboundStatus.RECEIVED)
    assert event.attempts == 1 and event.lease_until is not None and event.error


def test_an_invalid_record_fails_with_the_reason(deliver, crm_connection):
    event = deliver(example("ContactCreate", email="not an e-mail"), InboundStatus.FAILED)
    assert "email" in event.error and not Contact.objects.exists()


def test_the_echo_of_our_own_create_waits_for_its_remote_id_instead_of_duplicating(
    deliver, crm_connection, workspace
):
    from contacts.services import contact_create
    from portal.actors import Actor
    from sync.inbound.processing import process_event
    from sync.models import ChangeStatus, OutboundChange

    ours = contact_create(
        workspace=crm_connection.workspace,
        actor=Actor.system("test"),
        data={"first_name": "John", "email": "JohnDeo@gmail.comm"},
    )
    # The push is creating it in the CRM: its Link exists without a remote id yet.
    OutboundChange.objects.filter(connection=crm_connection).update(status=ChangeStatus.IN_FLIGHT)
    link = Link.objects.create(connection=crm_connection, object_type="contact", object_id=ours.pk)
    event = deliver(example("ContactCreate"), InboundStatus.RECEIVED)
    assert "no answer yet" in event.error and Contact.objects.count() == 1
    # The push learns the remote id and finishes; the delivery is then matched, not created.
    link.remote_id = "nmFmQEsNgz6AVpgLVUJ0"
    link.save()
    OutboundChange.objects.update(status=ChangeStatus.DONE)
    InboundEvent.objects.filter(pk=event.pk).update(lease_until=None)
    process_event(event.pk)
    assert Contact.objects.count() == 1
    event.refresh_from_db()
    # matched to our contact (here older than what we hold, so it changes nothing)
    assert event.status in (InboundStatus.PROCESSED, InboundStatus.ECHO, InboundStatus.IGNORED)


def test_a_create_in_flight_for_another_email_does_not_hold_a_new_crm_contact(
    deliver, crm_connection
):
    from contacts.services import contact_create
    from portal.actors import Actor
    from sync.models import ChangeStatus, OutboundChange

    other = contact_create(
        workspace=crm_connection.workspace,
        actor=Actor.system("test"),
        data={"first_name": "Other", "email": "other@example.com"},
    )
    OutboundChange.objects.update(status=ChangeStatus.IN_FLIGHT)
    Link.objects.create(connection=crm_connection, object_type="contact", object_id=other.pk)
    deliver(example("ContactCreate"))
    assert Contact.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_unknown_contact_of_a_task_is_read_from_the_crm_outside_any_transaction(
    deliver, crm, crm_connection
):
    in_transaction = []

    def contact(request):  # on SQLite a transaction holds the write lock: never during a call
        in_transaction.append(connection.in_atomic_block)
        record = {"id": "CWBf1PR9LvvBkcYqiXlc", "locationId": LOCATION, "firstName": "Fetched"}
        return 200, {}, json.dumps({"contact": record})

    crm.add_callback("GET", f"{CRM}/contacts/CWBf1PR9LvvBkcYqiXlc", callback=contact)
    deliver(example("TaskCreate"))
    assert in_transaction == [False]
    assert Task.objects.get().contact.first_name == "Fetched"
