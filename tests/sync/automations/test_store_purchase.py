"""Seed scenario: store purchase → CRM contact + follow-up task + welcome e-mail."""

import pytest

from sync.models import AutomationRun, AutomationStep, InboundEvent, RunStatus, StepStatus
from tests.sync.automations.conftest import CRM, MAILER, body, sent

pytestmark = pytest.mark.django_db
PURCHASE = {
    "order_id": "o-1001",
    "customer": {"email": "Grace@Example.com", "first_name": "Grace", "last_name": "Hopper"},
    "product": {"name": "Compiler course"},
}


def answer_crm_and_mailer(remote):
    remote.post(CRM + "/contacts/upsert", json={"new": True, "contact": {"id": "C-77"}})
    remote.post(CRM + "/contacts/C-77/tasks", json={"task": {"id": "T-1"}})
    remote.post(MAILER + "/email/check", json={"email": "grace@example.com", "valid": True})
    remote.post(MAILER + "/push/system", json={"status": "ok"})


def test_a_purchase_creates_one_contact_task_and_welcome_email(
    remote, automation, post_event, run_steps
):
    answer_crm_and_mailer(remote)
    assert post_event("purchase.created", PURCHASE, msg_id="msg_p1").status_code == 202
    run_steps()

    run = AutomationRun.objects.get()
    assert run.status == RunStatus.DONE
    event = InboundEvent.objects.get()
    assert run.event_key == f"inbound:{event.pk}" and "started 1 automation run" in event.result
    upsert, task = sent(remote, "POST", CRM)
    assert body(upsert)["email"] == "Grace@Example.com" and body(upsert)["locationId"]
    assert upsert.url.endswith("/contacts/upsert")
    task_body = body(task)
    assert task.url == CRM + "/contacts/C-77/tasks"  # step 1's output chained into step 2
    assert task_body["title"] == "Follow up order o-1001" and task_body["completed"] is False
    check, send = sent(remote, "POST", MAILER)
    assert body(check) == {"email": "Grace@Example.com"}
    letter = body(send)
    assert letter["type_id"] == 12 and letter["category"] == 1 and letter["project_id"] == "p1"
    assert letter["data"]["user"]["email"] == "grace@example.com"
    assert letter["data"]["product"] == "Compiler course"
    steps = list(AutomationStep.objects.order_by("position"))
    assert [s.status for s in steps] == [StepStatus.DONE] * 3
    assert steps[1].inputs["contactId"] == "C-77" and steps[0].output["id"] == "C-77"
    assert steps[1].calls[0]["response"] == {"task": {"id": "T-1"}}


def test_the_same_purchase_delivered_twice_fires_once(remote, automation, post_event, run_steps):
    answer_crm_and_mailer(remote)
    post_event("purchase.created", PURCHASE, msg_id="msg_same")
    assert post_event("purchase.created", PURCHASE, msg_id="msg_same").status_code == 200
    run_steps()
    assert AutomationRun.objects.count() == 1
    assert len(sent(remote, "POST", CRM + "/contacts/C-77/tasks")) == 1
    assert len(sent(remote, "POST", MAILER + "/push/system")) == 1
