"""The other seed scenarios end to end: signage contact → CRM user (created, updated,
deleted), milestone → trigger e-mail, client-management lead → CRM contact + workflow +
onboarding e-mail. Every CRM request is checked against the CRM's OpenAPI files."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from contacts.services import contact_create, contact_delete, contact_update
from portal.actors import Actor
from portal.audit import MASK
from sync.automations.actions import base as actions
from sync.automations.presets import create_from_template
from sync.models import AutomationRun, AutomationStep, Mode, RunStatus, StepStatus
from tests.factories import TEST_ACTOR
from tests.sync.automations.conftest import CRM, MAILER, body, sent
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
USERS = CRM + "/users/"


@pytest.fixture
def signage(workspace):
    return ConnectionFactory(workspace=workspace, provider="rest", name="Signage",
                             slug="signage", base_url="https://signage.example",
                             credentials={}, options={"objects": {}}, scopes="")  # fmt: skip


def enable(key, workspace, **connections):
    automation = create_from_template(key, workspace=workspace, connections=connections)
    automation.mode = Mode.ON
    automation.save()
    return automation


def test_signage_contact_becomes_a_crm_user_then_is_updated_and_deleted(
    remote, workspace, crm_conn, signage, run_steps
):
    for key in ("signage_contact_created", "signage_contact_updated", "signage_contact_deleted"):
        enable(key, workspace, crm=crm_conn, source=signage)
    remote.post(USERS, json={"id": "U-5", "email": "ada@example.com"})
    actor = Actor.connection(signage)
    contact = contact_create(workspace=workspace, actor=actor, data={
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"})  # fmt: skip
    run_steps()
    create = sent(remote, "POST", USERS)[0]
    created = body(create)
    assert created["email"] == "ada@example.com" and created["firstName"] == "Ada"
    assert created["companyId"] == "comp1" and created["password"]
    assert created["role"] == "user" and created["type"] == "account"
    step = AutomationStep.objects.get()
    assert step.output == {"id": "U-5"}
    assert step.calls[0]["json"]["password"] == MASK  # never stored in clear
    assert created["password"] not in str(step.calls)

    remote.get(USERS, json={"users": [{"id": "U-5", "email": "ada@example.com"}]})
    remote.put(USERS + "U-5", json={"id": "U-5"})
    contact_update(contact, actor=actor, data={"last_name": "King"})
    run_steps()
    assert body(sent(remote, "PUT", USERS + "U-5")[0])["lastName"] == "King"

    remote.delete(USERS + "U-5", json={"succeded": True})
    contact_delete(contact, actor=actor)
    run_steps()
    assert len(sent(remote, "DELETE", USERS + "U-5")) == 1
    assert AutomationRun.objects.filter(status=RunStatus.DONE).count() == 3


def test_contacts_from_elsewhere_or_without_an_email_fire_nothing(
    remote, workspace, crm_conn, signage, run_steps
):
    enable("signage_contact_created", workspace, crm=crm_conn, source=signage)
    contact_create(workspace=workspace, actor=TEST_ACTOR, data={"email": "x@example.com"})
    contact_create(workspace=workspace, actor=Actor.connection(signage),
                   data={"first_name": "No", "phone": "+15550100000"})  # fmt: skip
    run_steps()
    assert not AutomationRun.objects.exists()
    assert len(remote.calls) == 0


def test_a_killed_worker_still_creates_one_user(remote, workspace, crm_conn, signage,
                                                run_steps, monkeypatch):  # fmt: skip
    enable("signage_contact_created", workspace, crm=crm_conn, source=signage)
    remote.post(USERS, json={"id": "U-5"})
    remote.get(USERS, json={"users": [{"id": "U-5", "email": "ada@example.com"}]})

    class Killed(BaseException):
        pass

    original = actions.StepCall._save

    def die_before_saving(self, entry):
        if entry["method"] == "POST":
            raise Killed  # the CRM created the user; its answer is lost with the worker
        original(self, entry)

    monkeypatch.setattr(actions.StepCall, "_save", die_before_saving)
    contact_create(workspace=workspace, actor=Actor.connection(signage),
                   data={"email": "ada@example.com", "first_name": "Ada"})  # fmt: skip
    with pytest.raises(Killed):
        run_steps()
    monkeypatch.setattr(actions.StepCall, "_save", original)
    run_steps(now=timezone.now() + timedelta(seconds=settings.SYNC_LEASE_SECONDS + 1))
    assert len(sent(remote, "POST", USERS)) == 1
    step = AutomationStep.objects.get()
    assert step.status == StepStatus.DONE and step.output["id"] == "U-5"


def test_milestone_sends_one_trigger_email(remote, workspace, mailer, run_steps):
    automation = enable("milestone_email", workspace, email=mailer)
    action = automation.actions.get()
    action.inputs = {**action.inputs, "type_id": 31}
    action.save()
    remote.post(MAILER + "/email/check", json={"email": "ada@example.com", "valid": True})
    remote.post(MAILER + "/push/trigger", json={})
    contact = contact_create(workspace=workspace, actor=TEST_ACTOR, data={
        "email": "Ada@Example.com", "first_name": "Ada", "country": "GB",
        "custom_fields": {"milestone": "", "language": "en"}})  # fmt: skip
    reached = {"custom_fields": {"milestone": "100 plays", "language": "en"}}
    contact_update(contact, actor=TEST_ACTOR, data=reached)
    contact_update(contact, actor=TEST_ACTOR, data={"first_name": "Ada B."})  # not a milestone
    run_steps()
    (letter,) = sent(remote, "POST", MAILER + "/push/trigger")
    sent_body = body(letter)
    assert sent_body["category"] == 2 and sent_body["type_id"] == 31
    assert sent_body["data"]["milestone"] == "100 plays"
    user = sent_body["data"]["user"]
    assert user["email"] == "ada@example.com" and user["country"] == "GB"
    assert user["language"] == "en" and user["platform_id"] == 1 and user["list_id"] == 7
    assert user["client_user_id"] == contact.public_id
    assert sent_body["meta"]["contact"] == contact.public_id


def test_client_lead_becomes_a_crm_contact_in_a_workflow_with_an_onboarding_email(
    remote, workspace, crm_conn, mailer, run_steps
):
    crm_app = ConnectionFactory(workspace=workspace, provider="rest", name="Clients",
                                slug="clients", base_url="https://clients.example",
                                credentials={}, options={"objects": {}}, scopes="")  # fmt: skip
    automation = enable("client_lead_onboarding", workspace, crm=crm_conn, email=mailer,
                        source=crm_app)  # fmt: skip
    workflow_id = "78559bb3-b920-461e-b010-7b2a2816d2a9"
    automation.actions.filter(position=2).update(
        inputs={"contactId": "{{ steps.1.id }}", "workflowId": workflow_id}
    )
    automation.actions.filter(position=3).update(
        inputs={"email": "{{ contact.email }}", "type_id": 4}
    )
    remote.post(CRM + "/contacts/upsert", json={"new": True, "contact": {"id": "C-9"}})
    remote.post(CRM + "/contacts/C-9/workflow/78559bb3-b920-461e-b010-7b2a2816d2a9", json={})
    remote.post(MAILER + "/email/check", json={"email": "lead@example.com", "valid": True})
    remote.post(MAILER + "/push/system", json={})
    contact_create(workspace=workspace, actor=Actor.connection(crm_app), data={
        "email": "lead@example.com", "first_name": "Lea", "last_name": "D"})  # fmt: skip
    run_steps()
    upsert, workflow = sent(remote, "POST", CRM)
    assert body(upsert)["source"] == "client-management"
    assert workflow.url.startswith(CRM + "/contacts/C-9/workflow/")
    assert len(sent(remote, "POST", MAILER + "/push/system")) == 1
    assert AutomationRun.objects.get().status == RunStatus.DONE


def test_an_address_the_check_refuses_fails_the_step_with_the_reason(
    remote, workspace, mailer, run_steps
):
    automation = enable("milestone_email", workspace, email=mailer)
    automation.actions.update(inputs={"email": "{{ contact.email }}", "type_id": 3})
    remote.post(MAILER + "/email/check", json={"valid": False, "reason": "mailbox unknown"})
    contact = contact_create(workspace=workspace, actor=TEST_ACTOR, data={"email": "x@example.com"})
    contact_update(contact, actor=TEST_ACTOR, data={"custom_fields": {"milestone": "1"}})
    run_steps()
    step = AutomationStep.objects.get()
    assert step.status == StepStatus.FAILED and "mailbox unknown" in step.last_error
    assert not sent(remote, "POST", MAILER + "/push/trigger")
