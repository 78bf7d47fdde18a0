"""Automations in a real browser at 1,280 px: create one from a template, edit it, dry-run a
pasted store purchase and read every step's request on the run page."""

import json

import pytest

from sync.models import Automation, AutomationRun, RunStatus
from tests.browser.conftest import screenshot
from tests.factories import WorkspaceFactory
from tests.sync.connectors.factories import email_api_connection
from tests.sync.factories import ConnectionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PURCHASE = {
    "type": "purchase.created",
    "data": {
        "order_id": "o-1001",
        "customer": {"email": "grace@example.com", "first_name": "Grace", "last_name": "H"},
        "product": {"name": "Compiler course"},
    },
}


@pytest.fixture
def connections(monkeypatch):
    monkeypatch.setattr("sync.engine.queue.async_task", lambda *args, **kwargs: None)
    workspace = WorkspaceFactory(name="Acme", location_id="ve9EPM428h8vShlRW1KT")
    crm = ConnectionFactory(workspace=workspace, name="Main CRM", company_id="comp1")
    mailer = email_api_connection(workspace)
    store = ConnectionFactory(
        workspace=workspace,
        provider="rest",
        name="Store",
        slug="store",
        base_url="https://store.example",
        credentials={},
        scopes="",
    )
    return workspace, crm, mailer, store


def test_create_edit_and_dry_run_an_automation(logged_in, live_server, connections):
    workspace, crm, mailer, store = connections
    page = logged_in
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/sync/automation/")
    page.click("text=Create from template")
    page.select_option("#id_template", "store_purchase")
    page.select_option("#id_workspace", str(workspace.pk))
    page.select_option("#id_crm", str(crm.pk))
    page.select_option("#id_email", str(mailer.pk))
    page.select_option("#id_source", str(store.pk))
    page.click("input[type=submit]")
    page.wait_for_selector("#automation_form")
    automation = Automation.objects.get()

    inputs = page.locator("#id_actions-2-inputs")
    welcome = json.loads(inputs.input_value())
    inputs.fill(json.dumps({**welcome, "type_id": 12}))
    page.select_option("#id_mode", "dry_run")
    assert page.locator("#id_actions-1-operation").input_value() == "task.create"
    screenshot(page, "automation-editor")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    automation.refresh_from_db()
    assert automation.mode == "dry_run"

    page.click("text=Test / send test event")
    page.fill("#id_event", json.dumps(PURCHASE))
    page.click("input[type=submit]")
    page.wait_for_selector("#automationrun_form")
    text = page.content()
    assert "/contacts/upsert" in text and "Follow up order o-1001" in text
    assert "/push/system" in text
    run = AutomationRun.objects.get()
    assert run.status == RunStatus.DRY_RUN
    steps = page.locator("#run-steps").inner_text()
    assert "task.create" in steps and "POST /contacts/<id from step 1>/tasks" in steps
    screenshot(page, "automation-run")


def test_a_contacts_timeline_shows_its_automation_steps(logged_in, live_server, connections):
    from contacts.services import contact_update
    from sync.automations.presets import create_from_template
    from sync.automations.runner import drain
    from tests.factories import TEST_ACTOR, ContactFactory

    workspace, _crm, mailer, _store = connections
    mailer.dry_run = True  # records its would-be requests, sends nothing
    mailer.save()
    automation = create_from_template(
        "milestone_email", workspace=workspace, connections={"email": mailer}
    )
    automation.actions.update(inputs={"email": "{{ contact.email }}", "type_id": 5})
    Automation.objects.filter(pk=automation.pk).update(mode="on")
    contact = ContactFactory(workspace=workspace, first_name="Ada", email="ada@example.com")
    contact_update(contact, actor=TEST_ACTOR, data={"custom_fields": {"milestone": "100 plays"}})
    drain()

    page = logged_in
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/contacts/contact/{contact.pk}/change/")
    page.click("a.timeline-link")
    page.wait_for_selector("#timeline")
    history = page.locator("#timeline").inner_text()
    assert "Step 1: email.send_trigger" in history and "POST /push/trigger" in history
    assert "Automation “Milestone reached → trigger e-mail” fired" in history
    screenshot(page, "automation-timeline")
