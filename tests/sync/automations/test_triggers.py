"""Which mirror changes fire which triggers (tags, appointments, tasks, fields, sources)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from contacts.services import (
    appointment_create,
    contact_update,
    mirror_update,
    task_create,
)
from portal.actors import Actor
from sync.engine.outbox import outbound_suppressed
from sync.models import Automation, AutomationAction, AutomationRun, Mode, Trigger
from tests.factories import TEST_ACTOR, ContactFactory

pytestmark = pytest.mark.django_db


def automation(workspace, connection, trigger, **fields):
    auto = Automation.objects.create(
        workspace=workspace, name=trigger, mode=Mode.ON, trigger=trigger, **fields
    )
    AutomationAction.objects.create(
        automation=auto,
        connection=connection,
        operation="tag.add",
        inputs={"contactId": "x", "tags": "t"},
    )
    return auto


def fired(auto) -> list[str]:
    return list(AutomationRun.objects.filter(automation=auto).values_list("event_label", flat=True))


def test_tag_added_and_removed(workspace, crm_conn):
    added = automation(workspace, crm_conn, Trigger.TAG_ADDED, trigger_value="vip")
    removed = automation(workspace, crm_conn, Trigger.TAG_REMOVED)
    contact = ContactFactory(workspace=workspace, tags=["new"])
    contact_update(contact, actor=TEST_ACTOR, data={"tags": ["new", "other"]})
    assert fired(added) == []
    contact_update(contact, actor=TEST_ACTOR, data={"tags": ["new", "other", "vip"]})
    contact_update(contact, actor=TEST_ACTOR, data={"tags": ["vip"]})
    assert len(fired(added)) == 1 and len(fired(removed)) == 1
    run = AutomationRun.objects.get(automation=added)
    assert run.context["event"]["changes"]["tags"][1] == ["new", "other", "vip"]


def test_appointment_booked_and_status_changed_and_task_completed(workspace, crm_conn):
    booked = automation(workspace, crm_conn, Trigger.APPOINTMENT_BOOKED)
    status = automation(workspace, crm_conn, Trigger.APPOINTMENT_STATUS, trigger_value="showed")
    done = automation(workspace, crm_conn, Trigger.TASK_COMPLETED)
    contact = ContactFactory(workspace=workspace)
    appointment = appointment_create(
        workspace=workspace,
        actor=TEST_ACTOR,
        data={
            "contact": contact,
            "calendar_id": "cal",
            "start_time": timezone.now() + timedelta(days=1),
        },
    )
    mirror_update(appointment, actor=TEST_ACTOR, data={"status": "confirmed"})
    assert fired(status) == []
    mirror_update(appointment, actor=TEST_ACTOR, data={"status": "showed"})
    task = task_create(
        workspace=workspace, actor=TEST_ACTOR, data={"contact": contact, "title": "Call"}
    )
    mirror_update(task, actor=TEST_ACTOR, data={"title": "Call back"})
    mirror_update(task, actor=TEST_ACTOR, data={"completed": True})
    assert len(fired(booked)) == 1 and len(fired(status)) == 1 and len(fired(done)) == 1
    run = AutomationRun.objects.get(automation=done)
    assert run.context["contact"]["id"] == contact.public_id and run.context["task"]["completed"]


def test_field_changed_to_a_value_fires_once(workspace, crm_conn):
    auto = automation(
        workspace,
        crm_conn,
        Trigger.FIELD_CHANGED,
        object_type="contact",
        trigger_field="city",
        trigger_value="Paris",
    )
    contact = ContactFactory(workspace=workspace, city="Lyon")
    contact_update(contact, actor=TEST_ACTOR, data={"city": "Paris"})
    contact_update(contact, actor=TEST_ACTOR, data={"first_name": "Zed"})
    contact_update(contact, actor=TEST_ACTOR, data={"city": "Nice"})
    assert len(fired(auto)) == 1


def test_a_change_at_a_given_connection_only(workspace, crm_conn):
    auto = automation(
        workspace,
        crm_conn,
        Trigger.RECORD_UPDATED,
        object_type="contact",
        trigger_connection=crm_conn,
    )
    contact = ContactFactory(workspace=workspace)
    contact_update(contact, actor=TEST_ACTOR, data={"city": "Rome"})
    contact_update(contact, actor=Actor.connection(crm_conn), data={"city": "Oslo"})
    assert fired(auto) == [f"contact {contact.public_id} updated"]


def test_backfills_and_rolled_back_changes_fire_nothing(workspace, crm_conn):
    auto = automation(workspace, crm_conn, Trigger.RECORD_CREATED, object_type="contact")
    with outbound_suppressed():
        ContactFactory(workspace=workspace)
    with pytest.raises(RuntimeError), transaction.atomic():
        ContactFactory(workspace=workspace)
        raise RuntimeError("an error after the write, before commit")
    assert fired(auto) == []
    ContactFactory(workspace=workspace)
    assert len(fired(auto)) == 1
