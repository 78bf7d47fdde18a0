"""The step runner: one effect per event x action (also after a worker is killed mid-step),
retries with backoff, dead letters, replay, disabled and dry-run automations, the timeline."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from sync.automations.actions import base as actions
from sync.automations.presets import create_from_template
from sync.automations.runner import replay
from sync.console.timeline import timeline
from sync.models import AutomationRun, AutomationStep, Mode, RunStatus, StepStatus
from tests.sync.automations.conftest import CRM, MAILER, sent
from tests.sync.automations.test_store_purchase import PURCHASE, answer_crm_and_mailer

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """The worker dies (SIGKILL, OOM): nothing after this point runs."""


def after_lease():
    return timezone.now() + timedelta(seconds=settings.SYNC_LEASE_SECONDS + 1)


def kill_after_saving(monkeypatch, path_end):
    """The worker dies right after the answer to `path_end` was saved (once)."""
    original = actions.StepCall._save
    state = {"killed": False}

    def save(self, entry):
        original(self, entry)
        if entry.get("path", "").endswith(path_end) and not state["killed"]:
            state["killed"] = True
            raise Killed

    monkeypatch.setattr(actions.StepCall, "_save", save)


def test_killed_after_each_answer_still_one_task_and_one_email(
    remote, automation, post_event, run_steps, monkeypatch
):
    answer_crm_and_mailer(remote)
    post_event("purchase.created", PURCHASE)
    kill_after_saving(monkeypatch, "/tasks")
    with pytest.raises(Killed):
        run_steps()
    step = AutomationStep.objects.get(position=2)
    assert step.status == StepStatus.IN_FLIGHT and step.attempts == 1
    assert run_steps()["processed"] == 0  # the lease still holds

    kill_after_saving(monkeypatch, "/push/system")
    with pytest.raises(Killed):
        run_steps(now=after_lease())
    run_steps(now=after_lease() + timedelta(seconds=settings.SYNC_LEASE_SECONDS + 1))

    assert len(sent(remote, "POST", CRM + "/contacts/C-77/tasks")) == 1
    assert len(sent(remote, "POST", MAILER + "/push/system")) == 1
    assert len(sent(remote, "POST", CRM + "/contacts/upsert")) == 1
    assert AutomationRun.objects.get().status == RunStatus.DONE
    assert AutomationStep.objects.get(position=2).attempts == 2


def test_killed_during_the_create_call_finds_the_task_instead_of_creating_it_again(
    remote, automation, post_event, run_steps, monkeypatch
):
    answer_crm_and_mailer(remote)
    remote.get(CRM + "/contacts/C-77/tasks", json={"tasks": [
        {"id": "T-1", "title": "Follow up order o-1001", "contactId": "C-77"}]})  # fmt: skip
    post_event("purchase.created", PURCHASE)
    original = actions.StepCall._save

    def die_before_saving(self, entry):
        if entry.get("path", "").endswith("/tasks") and entry["method"] == "POST":
            raise Killed  # the CRM got the POST; we never learnt its answer
        original(self, entry)

    monkeypatch.setattr(actions.StepCall, "_save", die_before_saving)
    with pytest.raises(Killed):
        run_steps()
    monkeypatch.setattr(actions.StepCall, "_save", original)
    run_steps(now=after_lease())

    assert len(sent(remote, "POST", CRM + "/contacts/C-77/tasks")) == 1
    task_step = AutomationStep.objects.get(position=2)
    assert task_step.output == {"id": "T-1", "contactId": "C-77", "found": True}
    assert AutomationRun.objects.get().status == RunStatus.DONE


def test_server_errors_retry_with_backoff_then_dead_letter_then_replay(
    remote, automation, post_event, run_steps, settings
):
    settings.SYNC_MAX_ATTEMPTS = 3
    remote.post(CRM + "/contacts/upsert", json={"new": True, "contact": {"id": "C-77"}})
    failing = remote.post(CRM + "/contacts/C-77/tasks", status=503)
    # A 503 leaves the outcome unknown: each later attempt looks for the task first.
    remote.get(CRM + "/contacts/C-77/tasks", json={"tasks": []})
    post_event("purchase.created", PURCHASE)
    run_steps()
    step = AutomationStep.objects.get(position=2)
    assert step.status == StepStatus.RETRYING and step.available_at > timezone.now()
    assert "503" in step.last_error
    later = timezone.now()
    for _ in range(3):
        later += timedelta(hours=7)
        run_steps(now=later)
    step.refresh_from_db()
    assert step.status == StepStatus.DEAD and step.attempts == 3
    assert AutomationStep.objects.get(position=3).status == StepStatus.SKIPPED
    assert AutomationRun.objects.get().status == RunStatus.FAILED
    assert len(sent(remote, "POST", CRM + "/contacts/C-77/tasks")) == 3

    remote.remove(failing)
    answer_crm_and_mailer(remote)
    assert replay(AutomationStep.objects.all()) == 1
    run_steps()
    assert AutomationRun.objects.get().status == RunStatus.DONE
    assert len(sent(remote, "POST", MAILER + "/push/system")) == 1


def test_a_permanent_error_fails_at_once_and_skips_the_rest(
    remote, automation, post_event, run_steps
):
    remote.post(CRM + "/contacts/upsert", json={"new": True, "contact": {"id": "C-77"}})
    remote.post(CRM + "/contacts/C-77/tasks", status=422, json={"message": "bad dueDate"})
    post_event("purchase.created", PURCHASE)
    run_steps()
    step = AutomationStep.objects.get(position=2)
    assert step.status == StepStatus.FAILED and step.attempts == 1
    assert AutomationStep.objects.get(position=3).status == StepStatus.SKIPPED


def test_a_missing_required_input_fails_with_its_name(workspace, remote, automation, post_event,
                                                       run_steps):  # fmt: skip
    automation.actions.filter(position=3).update(inputs={"email": "{{ data.customer.email }}"})
    answer_crm_and_mailer(remote)
    post_event("purchase.created", PURCHASE)
    run_steps()
    step = AutomationStep.objects.get(position=3)
    assert step.status == StepStatus.FAILED and "type_id" in step.last_error
    assert not sent(remote, "POST", MAILER + "/push/system")


def test_a_disabled_automation_does_nothing(remote, automation, post_event, run_steps):
    automation.mode = Mode.OFF
    automation.save()
    post_event("purchase.created", PURCHASE)
    run_steps()
    assert not AutomationRun.objects.exists()
    assert len(remote.calls) == 0


def test_disabling_stops_runs_already_queued(remote, automation, post_event, run_steps):
    post_event("purchase.created", PURCHASE)
    automation.mode = Mode.OFF
    automation.save()
    run_steps()
    assert len(remote.calls) == 0
    assert AutomationStep.objects.get(position=1).status == StepStatus.SKIPPED


def test_a_dry_run_records_every_request_and_sends_nothing(
    remote, automation, post_event, run_steps
):
    automation.mode = Mode.DRY_RUN
    automation.save()
    post_event("purchase.created", PURCHASE)
    run_steps()
    assert len(remote.calls) == 0
    run = AutomationRun.objects.get()
    assert run.dry_run and run.status == RunStatus.DRY_RUN
    steps = list(run.steps.order_by("position"))
    assert [s.status for s in steps] == [StepStatus.DRY_RUN] * 3
    assert steps[0].calls[0]["path"] == "/contacts/upsert" and steps[0].calls[0]["dry_run"]
    assert steps[1].calls[0]["json"]["title"] == "Follow up order o-1001"
    assert [c["path"] for c in steps[2].calls] == ["/email/check", "/push/system"]


def test_conditions_filter_events(remote, automation, post_event, run_steps):
    automation.conditions = {"op": "OR", "conditions": [
        {"field": "product.name", "operator": "LIKE", "value": "%course%"},
        {"field": "total", "operator": "LARGER", "value": 100}]}  # fmt: skip
    automation.save()
    post_event("purchase.created", {**PURCHASE, "product": {"name": "Sticker"}, "total": 3})
    assert not AutomationRun.objects.exists()
    post_event("purchase.created", {**PURCHASE, "product": {"name": "Sticker"}, "total": 300})
    post_event("purchase.created", PURCHASE)
    assert AutomationRun.objects.count() == 2


def test_the_records_timeline_shows_each_step(remote, workspace, crm_conn, mailer, run_steps):
    from contacts.services import contact_update
    from tests.factories import TEST_ACTOR, ContactFactory

    automation = create_from_template(
        "milestone_email", workspace=workspace, connections={"email": mailer}
    )
    automation.actions.update(inputs={"email": "{{ contact.email }}", "type_id": 5})
    automation.mode = Mode.ON
    automation.save()
    remote.post(MAILER + "/email/check", json={"email": "a@example.com", "valid": True})
    remote.post(MAILER + "/push/trigger", json={})
    contact = ContactFactory(workspace=workspace, email="a@example.com")
    contact_update(contact, actor=TEST_ACTOR, data={"custom_fields": {"milestone": "10 plays"}})
    run_steps()
    entries, _routes = timeline(contact)
    titles = [e.title for e in entries if e.kind == "automation"]
    assert "Step 1: email.send_trigger" in titles
    assert any(t.startswith("Automation “Milestone reached") for t in titles)
    step_entry = next(e for e in entries if e.title == "Step 1: email.send_trigger")
    assert step_entry.status == "done" and "POST /push/trigger" in step_entry.detail
