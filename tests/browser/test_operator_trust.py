"""Issue 17 in a real browser, one test per item, each page photographed at 1,280 px wide:
1 a CRM custom field mapped by name reaches the sandbox CRM with the other fields; 2 a deleted
contact is read-only and an edit is refused; 3 a webhook connection added in the admin shows
its secret once and its test works; 4 the dashboard chart shows a failure bar; 5 changelists
fit the window and name their records; 6 a rule built in the condition editor is previewed,
and a connection is added from a preset."""

import ipaddress
import json
import logging
import socket

import pytest
import requests
import responses
from playwright.sync_api import expect
from standardwebhooks import Webhook

from contacts.services import mirror_delete
from sandbox import DEFAULT_TOKEN, SandboxCRM
from sandbox.directory import custom_fields
from sync.engine.push import drain
from sync.models import Connection, DeliveryAttempt, FieldMapping, Link, OutboundChange, Rule
from sync.presets import load_presets
from tests.browser.conftest import screenshot
from tests.factories import TEST_ACTOR, ContactFactory, NoteFactory, TaskFactory, WorkspaceFactory
from tests.sync.factories import ConnectionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LOCATION = "ve9EPM428h8vShlRW1KT"
WIDTH = 1280


@pytest.fixture
def workspace(transactional_db):
    return WorkspaceFactory(name="Acme", location_id=LOCATION)


@pytest.fixture
def no_worker(monkeypatch):
    # No worker here: the test drains the outbox itself.
    monkeypatch.setattr("sync.engine.queue.async_task", lambda *args, **kwargs: None)


@pytest.fixture
def public_dns(monkeypatch):
    """Partner host names resolve to a public address (no DNS on this machine); IPs as is."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def sandbox(tmp_path, workspace, settings):
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]  # the stand-in CRM's host, as `make demo` allows
    logging.getLogger("sandbox_crm").setLevel(logging.WARNING)
    crm = SandboxCRM(str(tmp_path / "crm.sqlite3"), location_id=LOCATION, rate_limit=0)
    crm.start()
    yield crm
    crm.stop()


def fits_the_window(page) -> bool:
    """No horizontal scrolling: not the page, not the changelist's own scroll box."""
    results = page.locator("#changelist .results")
    if results.count() and results.evaluate("e => e.scrollWidth > e.clientWidth"):
        return False
    return page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_1_a_custom_field_mapped_by_name_reaches_the_crm_with_the_other_fields(
    logged_in, live_server, workspace, sandbox, no_worker
):
    page = logged_in
    conn = ConnectionFactory(workspace=workspace, name="Sandbox CRM", base_url=sandbox.base_url,
                             credentials={"token": DEFAULT_TOKEN}, rate_limit_requests=10_000,
                             rate_limit_interval_seconds=1)  # fmt: skip
    contact = ContactFactory(workspace=workspace, first_name="Ada", last_name="Lovelace",
                             email="ada@example.com",
                             custom_fields={"loyalty_tier": "bronze"})  # fmt: skip
    drain()
    tier = next(f for f in custom_fields(LOCATION) if f["fieldKey"] == "contact.loyalty_tier")

    page.goto(f"{live_server.url}/admin/sync/fieldmapping/add/?connection={conn.pk}"
              "&object_type=contact")  # fmt: skip
    page.select_option("#id_crm_custom_field", label="Loyalty tier (contact.loyalty_tier)")
    screenshot(page, "1-mapping-pick-custom-field")
    page.click("input[name=_save]")
    row = FieldMapping.objects.get(connection=conn)
    assert (row.mirror_field, row.remote_path) == ("custom_fields.loyalty_tier",
                                                   f"customFields#{tier['id']}")  # fmt: skip

    page.goto(f"{live_server.url}/admin/sync/connection/{conn.pk}/preview/"
              f"?object_type=contact&record={contact.public_id}")  # fmt: skip
    payload = json.loads(page.locator("#preview-payload").inner_text())
    assert payload["firstName"] == "Ada" and payload["email"] == "ada@example.com"
    assert {"id": tier["id"], "field_value": "bronze"} in payload["customFields"]
    plan = page.locator("#preview-mappings").inner_text()
    assert "added" in plan and "default" in plan
    screenshot(page, "1-preview-merged-mappings")

    page.goto(f"{live_server.url}/admin/contacts/contact/{contact.pk}/change/")
    page.fill("#id_city", "Lyon")
    page.locator("#id_custom_fields_jsonform input[type=text]").first.fill("gold")
    page.click("input[name=_save]")
    assert "was changed successfully" in page.locator(".messagelist").inner_text()
    drain()
    remote_id = Link.objects.get(connection=conn, object_type="contact",
                                 object_id=contact.pk).remote_id  # fmt: skip
    held = requests.get(f"{sandbox.base_url}/contacts/{remote_id}", timeout=10,
                        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}",
                                 "Version": "2021-07-28"}).json()["contact"]  # fmt: skip
    assert held["city"] == "Lyon" and held["firstName"] == "Ada"
    assert {"id": tier["id"], "value": "gold"} in held["customFields"]


def test_2_a_deleted_contact_is_read_only_and_an_edit_is_refused(
    logged_in, live_server, workspace, no_worker
):
    page = logged_in
    contact = ContactFactory(workspace=workspace, first_name="Grace", last_name="Hopper",
                             city="Arlington")  # fmt: skip
    task = TaskFactory(workspace=workspace, contact=contact, title="Book a compiler demo")
    NoteFactory(workspace=workspace, contact=contact, body="Prefers e-mail")
    page.goto(f"{live_server.url}/admin/contacts/contact/{contact.pk}/delete/")
    confirm = page.locator("#content").inner_text()
    assert "Task: Book a compiler demo" in confirm and "Note: Prefers e-mail" in confirm
    assert "Tasks: 1" in confirm and "Notes: 1" in confirm
    screenshot(page, "2-delete-confirmation-lists-children")

    page.goto(f"{live_server.url}/admin/contacts/contact/{contact.pk}/change/")  # a stale tab
    mirror_delete(contact, actor=TEST_ACTOR)  # another operator deletes it meanwhile
    page.fill("#id_city", "Nice")
    page.click("input[name=_save]")
    assert "read-only, so nothing was saved" in page.locator(".messagelist").inner_text()
    assert page.locator("#deleted-banner").is_visible()
    assert page.locator("input[name=_save]").count() == 0
    screenshot(page, "2-deleted-contact-edit-refused")
    contact.refresh_from_db()
    assert contact.city == "Arlington"

    page.goto(f"{live_server.url}/admin/contacts/contact/")
    assert "Grace Hopper" not in page.locator("#changelist").inner_text()
    page.click("#changelist-filter a:text-is('Deleted')")
    expect(page.locator("#result_list")).to_contain_text("Grace Hopper")
    screenshot(page, "2-deleted-contacts-filter")
    page.goto(f"{live_server.url}/admin/contacts/task/?state=all")
    assert page.locator("th.column-deleted").count() == 1
    assert task.title in page.locator("#result_list").inner_text()
    screenshot(page, "2-task-list-deleted-column")


def test_3_a_webhook_connection_added_in_the_admin_shows_its_secret_once_and_tests(
    logged_in, live_server, workspace, public_dns
):
    page = logged_in
    hook_url = "https://hooks.shop.example/in"
    page.goto(f"{live_server.url}/admin/sync/connection/add/")
    page.select_option("#id_workspace", str(workspace.pk))
    page.select_option("#id_provider", "webhook")
    page.fill("#id_name", "Shop hooks")
    page.fill("#id_slug", "shop-hooks")
    page.fill("#id_base_url", hook_url)
    page.click("input[name=_save]")
    secret = page.locator("code.webhook-secret").inner_text()
    assert secret.startswith("whsec_") and "only time" in page.locator("#content").inner_text()
    screenshot(page, "3-webhook-secret-shown-once")

    hook = Connection.objects.get(name="Shop hooks")
    empty = ConnectionFactory(workspace=workspace, provider="webhook", name="Old hooks",
                              slug="old-hooks", base_url=hook_url, credentials={})  # fmt: skip
    with responses.RequestsMock() as partner:
        partner.post(hook_url, status=200)
        page.goto(f"{live_server.url}/admin/sync/connection/")
        assert secret not in page.content()
        for connection in (hook, empty):
            page.check(f"input[name=_selected_action][value='{connection.pk}']")
        page.select_option("select[name=action]", "test_connections")
        page.click("button[name=index]")
        messages = page.locator(".messagelist").inner_text()
        assert "Shop hooks: A signed test message was accepted." in messages
        assert "Old hooks: The connection has no live signing secret" in messages
        request = partner.calls[0].request
        Webhook(secret).verify(request.body.decode(), dict(request.headers))
    screenshot(page, "3-webhook-test-results")


def test_4_the_dashboard_chart_shows_a_failure_bar(logged_in, live_server, workspace):
    page = logged_in
    conn = ConnectionFactory(workspace=workspace, name="Main CRM")
    calls = [
        DeliveryAttempt(connection=conn, method="PUT", path="/contacts/C1", outcome="ok")
    ] * 300
    calls += [DeliveryAttempt(connection=conn, method="GET", path="/contacts/", outcome="ok")] * 80
    calls += [DeliveryAttempt(connection=conn, method="PUT", path="/contacts/C2",
                              status_code=422, outcome="permanent")]  # fmt: skip
    DeliveryAttempt.objects.bulk_create(calls)
    conn.record_error("HTTP 422: phone must be a phone")
    conn.record_success()  # a later push went through: the error has aged out

    page.click("#dashboard-link")
    failure = page.locator("#charts rect.bar[fill='#c62828']")
    assert failure.count() == 1 and failure.bounding_box()["height"] >= 4
    assert "failed: 1" in failure.locator("title").text_content()
    chart = page.locator("#charts figure").first.inner_text()
    assert "writes 300" in chart and "reads 80" in chart and "failed 1" in chart
    svg = page.locator("#charts svg").first.inner_html()
    assert "calls per hour" in svg and "hour (UTC)" in svg
    assert "none since the last success" in page.locator("#connection-health").inner_text()
    screenshot(page, "4-dashboard-24h-failure-bar")
    page.click("#chart-ranges a:text-is('Last 7 days')")
    expect(page.locator("#charts svg").first).to_contain_text("calls per day")
    screenshot(page, "4-dashboard-7-days")


def test_5_changelists_fit_1280_px_and_name_their_records(
    logged_in, live_server, workspace, no_worker
):
    page = logged_in
    conn = ConnectionFactory(workspace=workspace, name="Main CRM")
    contact = ContactFactory(workspace=workspace, first_name="Ada", last_name="Lovelace")
    change = OutboundChange.objects.get(object_id=contact.pk)
    OutboundChange.objects.filter(pk=change.pk).update(
        status="failed", last_status_code=422,
        last_error="HTTP 422 from the CRM: " + "phone must be a valid phone number; " * 6,
    )  # fmt: skip
    DeliveryAttempt.objects.create(connection=conn, change=change, method="POST",
                                   path="/contacts/", status_code=422, outcome="permanent",
                                   error="phone must be a valid phone number")  # fmt: skip
    for name in ("outboundchange", "deliveryattempt", "connection", "fieldmapping", "rule",
                 "inboundevent", "link"):  # fmt: skip
        page.goto(f"{live_server.url}/admin/sync/{name}/")
        assert fits_the_window(page), name
    portal = ("portal/auditentry", "portal/apikey", "portal/workspace")
    mirror = ("contact", "crmuser", "task", "note", "appointment")
    for path in (*portal, *(f"contacts/{name}" for name in mirror)):
        page.goto(f"{live_server.url}/admin/{path}/")
        assert fits_the_window(page), path
    screenshot(page, "5-appointment-list-empty")

    page.goto(f"{live_server.url}/admin/portal/auditentry/")
    screenshot(page, "5-audit-list")
    page.goto(f"{live_server.url}/admin/sync/deliveryattempt/")
    assert f"Contact Ada Lovelace\n{contact.public_id}" in page.locator("#result_list").inner_text()
    screenshot(page, "5-attempt-list")
    page.goto(f"{live_server.url}/admin/sync/outboundchange/")
    assert page.locator("h1").inner_text() == "Outbound changes"
    assert page.locator("#content-main a.addlink").count() == 0
    row = page.locator("#result_list tbody tr").first.inner_text()
    assert "Contact Ada Lovelace" in row and contact.public_id in row and "HTTP 422" in row
    screenshot(page, "5-outbox-list")
    page.locator("#result_list tbody tr").first.locator("a:text-is('timeline')").click()
    page.wait_for_selector("#timeline")
    assert page.locator("tr.current-model").get_attribute("class").startswith("model-contact")
    screenshot(page, "5-timeline-sidebar")
    page.goto(f"{live_server.url}/admin/sync/outboundchange/{change.pk}/change/")
    assert page.locator("h1").inner_text() == f"Outbound change {change.pk}"
    assert page.locator("input[name=_save]").count() == 0
    screenshot(page, "5-outbound-change-read-only")


def test_6_a_rule_from_the_condition_editor_is_previewed_and_a_preset_connection_added(
    logged_in, live_server, workspace, no_worker, public_dns
):
    page = logged_in
    conn = ConnectionFactory(workspace=workspace, name="Main CRM", dry_run=True)
    contact = ContactFactory(workspace=workspace, first_name="Ada", last_name="Lovelace",
                             tags=["vip"], city="Lyon")  # fmt: skip
    page.goto(f"{live_server.url}/admin/sync/rule/add/")
    page.select_option("#id_connection", str(conn.pk))
    page.fill("#id_name", "VIPs in Paris or Lyon")
    page.select_option("#id_object_type", "contact")
    editor = page.locator("#id_conditions_jsonform")
    editor.locator("button.rjf-add-button").nth(0).click()  # a condition
    editor.locator("input[name='rjf§conditions§0§field']").fill("tags")
    editor.locator("select[name='rjf§conditions§0§operator']").select_option("ANY_IN")
    editor.locator("input[name='rjf§conditions§0§value']").fill('["vip"]')
    editor.locator("button.rjf-add-button").nth(1).click()  # a group
    editor.locator("select[name='rjf§groups§0§match']").select_option("OR")
    for index, city in enumerate(("Paris", "Lyon")):
        editor.locator("button.rjf-add-button").nth(1).click()  # the group's "add condition"
        editor.locator(f"input[name='rjf§groups§0§conditions§{index}§field']").fill("city")
        editor.locator(f"input[name='rjf§groups§0§conditions§{index}§value']").fill(city)
    screenshot(page, "6-rule-condition-editor")
    page.click("input[name=_save]")
    rule = Rule.objects.get()
    paris, lyon = ({"field": "city", "operator": "EQUAL", "value": c} for c in ("Paris", "Lyon"))
    vip = {"field": "tags", "operator": "ANY_IN", "value": ["vip"]}
    either_city = {"op": "OR", "conditions": [paris, lyon]}
    assert rule.conditions == {"op": "AND", "conditions": [vip, either_city]}

    page.goto(f"{live_server.url}/admin/sync/connection/{conn.pk}/preview/"
              f"?object_type=contact&record={contact.public_id}")  # fmt: skip
    result = page.locator("#preview-result").inner_text()
    assert "VIPs in Paris or Lyon" in result and "passes" in result and "would be sent" in result
    screenshot(page, "6-rule-preview")

    load_presets()  # a transactional test starts without the data migration's rows
    with responses.RequestsMock() as partner:
        partner.get("https://signage.example/api/v1/users", json=[])
        page.goto(f"{live_server.url}/admin/")
        page.click("#preset-link")
        page.wait_for_load_state()  # the form's script runs on DOMContentLoaded
        page.select_option("#id_preset", label="Signage app (users from contacts)")
        expect(page.locator("[data-field=api_key]")).to_be_visible()
        expect(page.locator("[data-field=client_secret]")).to_be_hidden()
        expect(page.locator("tr.chosen")).to_contain_text("contact.create: POST /api/v1/users")
        page.fill("#id_name", "Lobby signage")
        page.select_option("#id_workspace", str(workspace.pk))
        page.fill("#id_base_url", "https://signage.example")
        page.fill("#id_api_key", "sk-live-123")
        page.check("#id_paths_confirmed")
        screenshot(page, "6-preset-form")
        page.click("#preset-save")
        assert "Added Lobby signage from the" in page.locator(".messagelist").inner_text()
    added = Connection.objects.get(name="Lobby signage")
    assert added.options["preset"] == "signage" and added.credentials == {"api_key": "sk-live-123"}
    assert FieldMapping.objects.filter(connection=added).exists()
    screenshot(page, "6-preset-connection-saved")
