import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, Task
from contacts.services import contact_create, contact_delete, contact_update, task_create
from contacts.signals import mirror_changed
from portal.models import AuditEntry
from tests.factories import ContactFactory, CrmUserFactory, TaskFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def announcements():
    received = []

    def receiver(sender, **kwargs):
        received.append((sender, kwargs["action"], kwargs["changes"]))

    mirror_changed.connect(receiver)
    yield received
    mirror_changed.disconnect(receiver)


def test_create_normalises_and_audits(workspace, actor, announcements):
    contact = contact_create(
        workspace=workspace,
        actor=actor,
        data={"first_name": "Jane", "email": " Jane@Example.COM", "phone": "(555) 010-0000"},
    )
    contact.refresh_from_db()
    assert contact.email == "Jane@example.com"
    assert contact.email_key == "jane@example.com"
    assert contact.phone == "+15550100000"
    assert contact.public_id.startswith("ct_") and len(contact.public_id) == 23
    assert contact.version == 1
    entry = AuditEntry.objects.get(object_id=contact.public_id)
    assert entry.action == "create"
    assert entry.actor_label == actor.label
    assert entry.changes["email"] == [None, "Jane@example.com"]
    assert announcements == [
        (
            Contact,
            "create",
            entry.changes
            | {
                "first_name": [None, "Jane"],
                "email": [None, "Jane@example.com"],
                "phone": [None, "+15550100000"],
            },
        )
    ]


def test_update_records_before_and_after(workspace, actor):
    contact = ContactFactory(workspace=workspace, first_name="Jane")
    updated, changed = contact_update(contact, actor=actor, data={"first_name": "Janet"})
    assert changed
    assert updated.version == 2
    entry = AuditEntry.objects.filter(object_id=contact.public_id, action="update").get()
    assert entry.changes == {"first_name": ["Jane", "Janet"]}


def test_update_that_changes_nothing_writes_nothing(workspace, actor, announcements):
    contact = ContactFactory(workspace=workspace, email="same@example.com")
    audit_count = AuditEntry.objects.count()
    announcements.clear()
    updated, changed = contact_update(contact, actor=actor, data={"email": "same@EXAMPLE.com"})
    assert not changed
    assert updated.version == 1
    assert AuditEntry.objects.count() == audit_count
    assert announcements == []


def test_error_inside_transaction_rolls_back_row_and_audit(workspace, actor):
    with pytest.raises(RuntimeError), transaction.atomic():
        contact_create(workspace=workspace, actor=actor, data={"first_name": "Ghost"})
        raise RuntimeError("crash before commit")
    assert not Contact.objects.filter(first_name="Ghost").exists()
    assert not AuditEntry.objects.filter(object_repr="Ghost").exists()


def test_receiver_failure_rolls_back_the_write(workspace, actor):
    def failing_receiver(**kwargs):
        raise RuntimeError("outbox unavailable")

    mirror_changed.connect(failing_receiver)
    try:
        with pytest.raises(RuntimeError):
            contact_create(workspace=workspace, actor=actor, data={"first_name": "Lost"})
    finally:
        mirror_changed.disconnect(failing_receiver)
    assert not Contact.objects.filter(first_name="Lost").exists()
    assert not AuditEntry.objects.filter(object_repr="Lost").exists()


def test_invalid_input_saves_nothing(workspace, actor):
    with pytest.raises(ValidationError) as exc:
        contact_create(
            workspace=workspace, actor=actor, data={"email": "nope", "phone": "12", "bogus": 1}
        )
    assert set(exc.value.message_dict) == {"email", "phone", "bogus"}
    assert Contact.objects.count() == 0


def test_related_object_from_another_workspace_is_refused(workspace, actor):
    other_contact = ContactFactory(workspace=WorkspaceFactory())
    with pytest.raises(ValidationError) as exc:
        task_create(workspace=workspace, actor=actor, data={"contact": other_contact, "title": "x"})
    assert "contact" in exc.value.message_dict
    assert Task.objects.count() == 0


def test_task_requires_its_contact(workspace, actor):
    with pytest.raises(ValidationError) as exc:
        task_create(workspace=workspace, actor=actor, data={"title": "orphan"})
    assert exc.value.message_dict == {"contact": ["This field is required."]}


def test_older_change_never_overwrites_newer_state(workspace, actor):
    now = timezone.now()
    contact = ContactFactory(workspace=workspace, first_name="New", source_updated_at=now)
    _, changed = contact_update(
        contact,
        actor=actor,
        data={"first_name": "Old"},
        source_updated_at=now - datetime.timedelta(seconds=5),
    )
    assert not changed
    contact.refresh_from_db()
    assert contact.first_name == "New"


def test_delete_is_a_tombstone_that_updates_cannot_resurrect(workspace, actor):
    task = TaskFactory(workspace=workspace)
    contact = task.contact
    deleted, changed = contact_delete(contact, actor=actor)
    assert changed and deleted.deleted_at is not None
    task.refresh_from_db()
    assert task.deleted_at is not None, "a contact's tasks go with it"
    _, changed = contact_update(
        contact,
        actor=actor,
        data={"first_name": "Back"},
        source_updated_at=timezone.now() + datetime.timedelta(hours=1),
    )
    assert not changed
    assert Contact.objects.get(pk=contact.pk).first_name != "Back"
    assert Contact.objects.live().filter(pk=contact.pk).count() == 0
    _, changed = contact_delete(contact, actor=actor)
    assert not changed


def test_same_email_in_two_workspaces_are_two_contacts(actor):
    first, second = WorkspaceFactory(), WorkspaceFactory()
    a = ContactFactory(workspace=first, email="shared@example.com")
    b = ContactFactory(workspace=second, email="shared@example.com")
    assert a.pk != b.pk
    assert Contact.objects.in_workspace(first).get(email_key="shared@example.com") == a
    assert Contact.objects.in_workspace(second).get(email_key="shared@example.com") == b


def test_assigned_user_change_is_audited_by_public_id(workspace, actor):
    user = CrmUserFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace)
    contact_update(contact, actor=actor, data={"assigned_user": user})
    entry = AuditEntry.objects.get(object_id=contact.public_id, action="update")
    assert entry.changes == {"assigned_user": [None, user.public_id]}
