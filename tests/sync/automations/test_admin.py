"""The automations admin: create from template, the editor's validation, the test page (dry
run on a record or a pasted event: every step's request shown, nothing sent), runs, replay."""

import json

import pytest
from django.test import TestCase
from django.urls import reverse

from sync.automations.presets import create_from_template
from sync.models import Automation, AutomationRun, AutomationStep, Mode, RunStatus, StepStatus
from tests.factories import ContactFactory
from tests.sync.automations.test_store_purchase import PURCHASE

pytestmark = pytest.mark.django_db


def editor_form(automation, **changes):
    data = {
        "workspace": automation.workspace_id,
        "name": automation.name,
        "description": "",
        "mode": automation.mode,
        "trigger": automation.trigger,
        "object_type": automation.object_type,
        "trigger_connection": "",
        "trigger_field": automation.trigger_field,
        "trigger_value": "",
        "event_type": automation.event_type,
        "conditions": json.dumps(automation.conditions),
        "actions-TOTAL_FORMS": 0,
        "actions-INITIAL_FORMS": 0,
    }
    for index, action in enumerate(automation.actions.order_by("position")):
        prefix = f"actions-{index}-"
        data.update(
            {
                prefix + "id": action.pk,
                prefix + "automation": automation.pk,
                prefix + "position": action.position,
                prefix + "connection": action.connection_id,
                prefix + "operation": action.operation,
                prefix + "inputs": json.dumps(action.inputs),
            }
        )
        data["actions-TOTAL_FORMS"] = data["actions-INITIAL_FORMS"] = index + 1
    data.update(changes)
    return data


@pytest.fixture
def purchase(workspace, crm_conn, mailer, store):
    return create_from_template(
        "store_purchase",
        workspace=workspace,
        connections={"crm": crm_conn, "email": mailer, "source": store},
    )


def test_create_from_template_makes_a_disabled_automation(
    admin_client, workspace, crm_conn, mailer, store
):
    url = reverse("admin:sync_automation_from_template")
    assert "Store purchase" in admin_client.get(url).content.decode()
    response = admin_client.post(
        url,
        {
            "template": "store_purchase",
            "workspace": workspace.pk,
            "crm": crm_conn.pk,
            "email": mailer.pk,
            "source": store.pk,
        },
    )
    automation = Automation.objects.get()
    assert response.status_code == 302 and automation.mode == Mode.OFF
    assert [a.operation for a in automation.actions.order_by("position")] == [
        "contact.upsert",
        "task.create",
        "email.send_system",
    ]
    missing = admin_client.post(url, {"template": "store_purchase", "workspace": workspace.pk})
    assert "choose a connection for" in missing.content.decode()


def test_the_editor_renders_and_refuses_bad_operations_templates_and_conditions(
    admin_client, purchase
):
    url = reverse("admin:sync_automation_change", args=[purchase.pk])
    page = admin_client.get(url).content.decode()
    assert "Test / send test event" in page and "task.create" in page
    assert 'id="id_trigger_value"' in page and 'value="null"' not in page
    bad = editor_form(
        purchase,
        **{
            "actions-1-operation": "task.explode",
            "actions-2-inputs": '{"email": "{{ data | eval }}"}',
            "conditions": '{"field": "x", "operator": "ROUGHLY"}',
        },
    )
    page = admin_client.post(url, bad).content.decode()
    assert "has no action" in page and "Unknown filter" in page and "Unknown operator" in page
    assert purchase.actions.get(position=2).operation == "task.create"
    ok = admin_client.post(url, editor_form(purchase, mode="on", trigger_value='"vip"'))
    assert ok.status_code == 302
    purchase.refresh_from_db()
    assert purchase.mode == Mode.ON and purchase.trigger_value == "vip"


def test_a_dry_run_of_a_pasted_event_shows_each_request_and_sends_nothing(
    admin_client, purchase, remote
):
    welcome = purchase.actions.get(position=3)
    welcome.inputs = {**welcome.inputs, "type_id": 12}
    welcome.save()
    url = reverse("admin:sync_automation_test", args=[purchase.pk])
    assert "Run the test" in admin_client.get(url).content.decode()
    event = json.dumps({"type": "purchase.created", "data": PURCHASE})
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(url, {"event": event, "dry_run": "on"}, follow=True)
    page = response.content.decode()
    run = AutomationRun.objects.get()
    assert run.dry_run and run.status == RunStatus.DRY_RUN
    assert "/contacts/upsert" in page and "Follow up order o-1001" in page
    assert "/push/system" in page and "&lt;id from step 1&gt;" in page
    assert len(remote.calls) == 0


def test_a_dry_run_on_a_record_and_a_refused_one(admin_client, workspace, mailer):
    automation = create_from_template(
        "milestone_email", workspace=workspace, connections={"email": mailer}
    )
    automation.actions.update(inputs={"email": "{{ contact.email }}", "type_id": 9})
    contact = ContactFactory(workspace=workspace, email="ada@example.com")
    url = reverse("admin:sync_automation_test", args=[automation.pk])
    refused = admin_client.post(url, {"record": "ct_nope", "dry_run": "on"})
    assert "No contact" in refused.content.decode()
    admin_client.post(url, {"record": contact.public_id, "dry_run": "on"})
    step = AutomationStep.objects.get()
    assert step.status == StepStatus.DRY_RUN
    assert step.calls[-1]["json"]["data"]["user"]["email"] == "ada@example.com"


def test_send_test_event_queues_a_real_run(admin_client, purchase, enqueued):
    url = reverse("admin:sync_automation_test", args=[purchase.pk])
    event = json.dumps({"type": "purchase.created", "data": PURCHASE})
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(url, {"event": event})
    run = AutomationRun.objects.get()
    assert not run.dry_run and run.event_key.startswith("test:")
    assert enqueued and enqueued[-1][0] == "sync.tasks.run_automation_step"


def test_runs_list_and_replay(admin_client, purchase):
    run = AutomationRun.objects.create(
        automation=purchase, workspace=purchase.workspace, event_key="k", status=RunStatus.FAILED
    )
    action = purchase.actions.get(position=1)
    step = AutomationStep.objects.create(
        run=run,
        action=action,
        position=1,
        connection=action.connection,
        operation="contact.upsert",
        idempotency_key="k1",
        status=StepStatus.DEAD,
        attempts=14,
        last_error="HTTP 503",
    )
    changelist = reverse("admin:sync_automationrun_changelist")
    assert admin_client.get(changelist).status_code == 200
    page = admin_client.get(reverse("admin:sync_automationrun_change", args=[run.pk]))
    assert "HTTP 503" in page.content.decode()
    admin_client.post(changelist, {"action": "replay_failed_steps", "_selected_action": [run.pk]})
    step.refresh_from_db()
    run.refresh_from_db()
    assert step.status == StepStatus.PENDING and step.attempts == 0
    assert run.status == RunStatus.RUNNING


def test_enable_and_disable_actions_are_audited(admin_client, purchase):
    from portal.models import AuditEntry

    changelist = reverse("admin:sync_automation_changelist")
    admin_client.post(changelist, {"action": "enable", "_selected_action": [purchase.pk]})
    purchase.refresh_from_db()
    assert purchase.mode == Mode.ON
    entry = AuditEntry.objects.filter(changes__has_key="mode").latest("id")
    assert entry.changes["mode"] == ["off", "on"] and entry.actor_label == "admin"
    admin_client.post(changelist, {"action": "disable", "_selected_action": [purchase.pk]})
    purchase.refresh_from_db()
    assert purchase.mode == Mode.OFF


def test_an_action_through_another_workspaces_connection_is_refused(admin_client, purchase):
    from tests.factories import WorkspaceFactory
    from tests.sync.factories import ConnectionFactory

    foreign = ConnectionFactory(workspace=WorkspaceFactory(), slug="their-crm")
    url = reverse("admin:sync_automation_change", args=[purchase.pk])
    form = editor_form(purchase, **{"actions-0-connection": foreign.pk})
    page = admin_client.post(url, form)
    assert page.status_code == 200 and "another workspace" in page.content.decode()
    assert purchase.actions.get(position=1).connection.workspace_id == purchase.workspace_id
