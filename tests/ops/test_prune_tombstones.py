"""Tombstones older than TOMBSTONE_RETENTION_DAYS are deleted (children first, with their links
and outbox rows); newer ones, and ones whose delete has not reached a connection, stay."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from contacts.erasure import contact_erase
from contacts.models import Contact, Task
from contacts.services import contact_delete
from ops import tasks
from portal.models import AuditEntry
from sync.models import ChangeStatus, Link, OutboundChange
from tests.factories import TEST_ACTOR, ContactFactory, TaskFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def age(instance, days: int) -> None:
    type(instance).objects.filter(pk=instance.pk).update(
        deleted_at=timezone.now() - timedelta(days=days)
    )


def test_old_tombstones_go_new_and_undelivered_ones_stay(workspace, settings):
    settings.TOMBSTONE_RETENTION_DAYS = 30
    conn = ConnectionFactory(workspace=workspace)
    old = TaskFactory(workspace=workspace).contact
    Link.objects.create(connection=conn, object_type="contact", object_id=old.pk, remote_id="R1")
    contact_erase(old, actor=TEST_ACTOR)
    recent = ContactFactory(workspace=workspace)
    contact_delete(recent, actor=TEST_ACTOR)
    undelivered = ContactFactory(workspace=workspace)
    contact_delete(undelivered, actor=TEST_ACTOR)
    OutboundChange.objects.exclude(object_id=undelivered.pk).update(status=ChangeStatus.DONE)
    for instance in (old, *old.tasks.all(), undelivered):
        age(instance, 31)
    age(recent, 29)

    counts = tasks.prune_logs()
    assert counts["contact tombstones"] == 1 and counts["task tombstones"] == 1
    assert set(Contact.objects.values_list("pk", flat=True)) == {recent.pk, undelivered.pk}
    assert not Task.objects.exists() and not Link.objects.exists()
    assert AuditEntry.objects.filter(action="erase", object_id=old.public_id).exists()

    OutboundChange.objects.update(status=ChangeStatus.DONE)
    out = StringIO()
    call_command("prune_logs", "--older-than", "90d", "--tombstones-older-than", "30d", stdout=out)
    assert "contact tombstones: 1 deleted" in out.getvalue()
    assert list(Contact.objects.values_list("pk", flat=True)) == [recent.pk]
