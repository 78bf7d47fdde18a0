import pytest
from django.db import transaction

from contacts.services import contact_create, contact_update
from portal.actors import Actor
from sync.engine import queue
from sync.engine.debounce import PUSH_TASK
from sync.engine.push import sweep
from sync.models import ChangeStatus, Operation, OutboundChange
from tests.factories import ContactFactory, WorkspaceFactory
from tests.sync.factories import ConnectionFactory, RuleFactory

pytestmark = pytest.mark.django_db


def test_one_row_per_target_connection_and_enqueued_on_commit(
    workspace, actor, enqueued, django_capture_on_commit_callbacks
):
    a = ConnectionFactory(workspace=workspace)
    b = ConnectionFactory(workspace=workspace)
    ConnectionFactory(workspace=workspace, active=False)
    ConnectionFactory(workspace=workspace, contacts_direction="in")
    ConnectionFactory(workspace=WorkspaceFactory())
    gone = ConnectionFactory(workspace=workspace)
    gone.soft_delete(by="tests")
    with django_capture_on_commit_callbacks(execute=True):
        contact = contact_create(workspace=workspace, actor=actor, data={"first_name": "Ada"})
    rows = OutboundChange.objects.filter(object_id=contact.pk)
    assert {r.connection_id for r in rows} == {a.pk, b.pk}
    assert all(r.status == ChangeStatus.PENDING and r.audit_action == "create" for r in rows)
    # Released to the workers, who are woken once (they claim the rows themselves).
    assert enqueued == [(PUSH_TASK,)]
    assert all(r.enqueued_at for r in OutboundChange.objects.filter(object_id=contact.pk))


def test_a_change_from_a_connection_is_never_sent_back_to_it(workspace, enqueued):
    a = ConnectionFactory(workspace=workspace)
    b = ConnectionFactory(workspace=workspace)
    contact = contact_create(
        workspace=workspace, actor=Actor.connection(a), data={"first_name": "Ada"}
    )
    assert list(
        OutboundChange.objects.filter(object_id=contact.pk).values_list("connection_id", flat=True)
    ) == [b.pk]


def test_error_before_commit_leaves_neither_record_nor_outbox_row(workspace, actor, enqueued):
    ConnectionFactory(workspace=workspace)
    with pytest.raises(RuntimeError), transaction.atomic():
        contact_create(workspace=workspace, actor=actor, data={"first_name": "Ada"})
        raise RuntimeError("crash after the business write")
    assert not OutboundChange.objects.exists()
    assert enqueued == []
    from contacts.models import Contact

    assert not Contact.objects.exists()


def test_filter_rules_and_actions_shape_the_rows(workspace, actor, enqueued):
    conn = ConnectionFactory(workspace=workspace)
    RuleFactory(
        connection=conn,
        conditions={"field": "email", "operator": "LIKE", "value": "%@acme.com"},
    )
    RuleFactory(
        connection=conn,
        kind="action",
        action="add_to_workflow",
        action_argument="wf-1",
        conditions={"field": "tags", "operator": "ANY_IN", "value": ["vip"]},
    )
    outsider = ContactFactory(workspace=workspace, email="x@other.com")
    assert not OutboundChange.objects.filter(object_id=outsider.pk, operation="sync").exists()
    member = ContactFactory(workspace=workspace, email="y@acme.com")
    contact_update(member, actor=actor, data={"tags": ["vip"]})
    contact_update(member, actor=actor, data={"first_name": "Again"})
    rows = OutboundChange.objects.filter(object_id=member.pk)
    assert rows.filter(operation=Operation.SYNC).count() == 3
    action = rows.get(operation=Operation.ACTION)
    assert action.action["type"] == "add_to_workflow" and action.action["argument"] == "wf-1"


def test_enqueue_failure_is_logged_and_left_to_the_sweeper(
    workspace, actor, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(queue, "async_task", broker_down)
    ConnectionFactory(workspace=workspace)
    with django_capture_on_commit_callbacks(execute=True):
        ContactFactory(workspace=workspace)
    row = OutboundChange.objects.get()
    assert row.status == ChangeStatus.PENDING
    assert "Could not wake sync.tasks.push_due; the sweeper will." in caplog.text
    queued = []
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: queued.append(args))
    sweep()  # the broker is back
    assert queued == [(PUSH_TASK,)]
