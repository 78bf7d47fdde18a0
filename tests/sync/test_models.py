import pytest
from django.db import IntegrityError, transaction
from django_q.models import Schedule

from sync.connectors import CONNECTORS, connector_class, provider_choices
from sync.engine.schedules import SWEEP_SCHEDULE_NAME, ensure_schedules
from sync.models import Direction, Link
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_sweeper_schedule_is_created_once():
    ensure_schedules()
    ensure_schedules()
    schedule = Schedule.objects.get(name=SWEEP_SCHEDULE_NAME)
    assert schedule.func == "sync.tasks.sweep" and schedule.repeats == -1


def test_provider_choices_come_from_the_registry():
    assert [key for key, _ in provider_choices()] == list(CONNECTORS)
    assert connector_class("highlevel").provider == "highlevel"
    with pytest.raises(ValueError, match="Unknown connector provider"):
        connector_class("fax")


def test_directions_and_soft_delete():
    conn = ConnectionFactory(tasks_direction=Direction.IN, notes_direction=Direction.OFF)
    assert conn.sends("contact") and conn.receives("contact")
    assert conn.receives("task") and not conn.sends("task")
    assert not conn.sends("note") and not conn.receives("note")
    assert conn.soft_delete(by="ops") is True
    assert conn.soft_delete(by="ops") is False
    conn.refresh_from_db()
    assert conn.deleted_by == "ops" and not conn.active


def test_links_are_unique_both_ways_but_allow_many_pending_creates():
    conn = ConnectionFactory()
    Link.objects.create(connection=conn, object_type="contact", object_id=1, remote_id="R1")
    Link.objects.create(connection=conn, object_type="contact", object_id=2, remote_id="")
    Link.objects.create(connection=conn, object_type="contact", object_id=3, remote_id="")
    for kwargs in ({"object_id": 1, "remote_id": "R2"}, {"object_id": 9, "remote_id": "R1"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Link.objects.create(connection=conn, object_type="contact", **kwargs)
