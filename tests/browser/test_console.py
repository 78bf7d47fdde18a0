"""The operator console in a real browser: dashboard, timeline, retry, key rotation, CSV."""

import csv
import json

import pytest
import responses

from portal.models import ApiKey
from sync.engine.push import drain
from sync.models import ChangeStatus, InboundEvent, OutboundChange
from tests.browser.conftest import screenshot
from tests.factories import ContactFactory, WorkspaceFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def crm():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def failed_contact(crm, monkeypatch):
    # No worker here: what would be queued is pushed by the test (drain) or by "Retry now".
    monkeypatch.setattr("sync.engine.queue.async_task", lambda *args, **kwargs: None)
    workspace = WorkspaceFactory(name="Acme", location_id="ve9EPM428h8vShlRW1KT")
    conn = ConnectionFactory(workspace=workspace, name="Main CRM")
    crm.post(CRM + "/contacts/", status=422, json={"message": ["phone must be a phone"]})
    contact = ContactFactory(workspace=workspace, first_name="Ada", last_name="Lovelace")
    drain()
    for i in range(3):
        InboundEvent.objects.create(source="highlevel", source_key="highlevel", connection=conn,
                                    event_type="ContactUpdate", webhook_id=f"w{i}", body="{}",
                                    status="processed")  # fmt: skip
    return contact


def test_dashboard_and_timeline(logged_in, live_server, failed_contact):
    page = logged_in
    page.click("#dashboard-link")
    page.wait_for_selector("#connection-health")
    assert page.locator("#charts svg.chart-svg rect.bar").count() >= 2
    assert page.locator("#dead-letters").inner_text() == "1"
    assert "Main CRM" in page.locator("#connection-health").inner_text()
    screenshot(page, "dashboard")

    page.goto(f"{live_server.url}/admin/contacts/contact/{failed_contact.pk}/change/")
    page.click("a.timeline-link")
    page.wait_for_selector("#timeline")
    routes = page.locator("#routes").inner_text()
    assert "Main CRM" in routes and "phone must be a phone" in routes
    assert page.locator("#timeline li").count() >= 3
    screenshot(page, "timeline")


def test_retry_a_failed_delivery_and_see_it_succeed(logged_in, live_server, crm, failed_contact):
    page = logged_in
    change = OutboundChange.objects.get(object_id=failed_contact.pk)
    crm.replace("POST", CRM + "/contacts/", json={"contact": {"id": "R1"}}, status=201)
    crm.get(CRM + "/contacts/search/duplicate", json={"contact": None})
    page.goto(f"{live_server.url}/admin/sync/outboundchange/?status__in=failed,dead")
    page.check(f"input[name=_selected_action][value='{change.pk}']")
    page.select_option("select[name=action]", "retry_now")
    page.click("button[name=index]")
    assert "1 done, 0 not" in page.locator(".messagelist").inner_text()
    page.goto(f"{live_server.url}/admin/sync/outboundchange/{change.pk}/change/")
    assert "Done" in page.locator(".field-status").inner_text()
    change.refresh_from_db()
    assert change.status == ChangeStatus.DONE


def test_rotate_an_api_key_and_see_the_secret_once(logged_in, live_server):
    page = logged_in
    workspace = WorkspaceFactory(name="Shop")
    page.goto(f"{live_server.url}/admin/portal/apikey/add/")
    page.fill("#id_name", "signage")
    page.check("input[name=scopes][value='contacts.write']")
    page.select_option("#id_workspaces_from", str(workspace.pk))
    page.click("#id_workspaces_add")
    page.click("input[name=_save]")
    first = page.locator("code.api-key-secret").inner_text()
    assert first.startswith("psk_")
    page.goto(f"{live_server.url}/admin/portal/apikey/")
    key = ApiKey.objects.get(name="signage", superseded_at=None)
    page.check(f"input[name=_selected_action][value='{key.pk}']")
    page.select_option("select[name=action]", "rotate_keys")
    page.click("button[name=index]")
    second = page.locator("code.api-key-secret").inner_text()
    assert second.startswith("psk_") and second != first
    assert "keeps working for 24 hours" in page.locator("#grace-note").inner_text()
    page.goto(f"{live_server.url}/admin/portal/apikey/")
    listing = page.content()
    assert first not in listing and second not in listing
    assert "rotated (grace)" in listing


def test_export_the_audit_trail_as_csv(logged_in, live_server, failed_contact):
    page = logged_in
    page.goto(f"{live_server.url}/admin/portal/auditentry/?action__exact=create")
    with page.expect_download() as download_info:
        page.click("a.export-csv")
    path = download_info.value.path()
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["id", "created_at", "workspace__slug"]
    created = [row for row in rows[1:] if row[9] == failed_contact.public_id]
    assert len(created) == 1 and created[0][7] == "create"
    assert json.loads(created[0][11])["first_name"] == [None, "Ada"]
