"""What this round shows an operator: each provider's capabilities both ways in the operations
catalog, and a connection's poll and reconcile schedule and its dry-run box."""

import pytest

from tests.browser.conftest import ARTIFACTS, screenshot
from tests.factories import WorkspaceFactory
from tests.sync.factories import ConnectionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_catalog_shows_what_each_provider_can_do_both_ways(logged_in, live_server):
    page = logged_in
    page.goto(f"{live_server.url}/admin/sync/operationscatalog/")
    crm = page.locator("h2", has_text="HighLevel CRM").locator("xpath=following-sibling::p[1]")
    text = crm.inner_text()
    assert "Webhook endpoint: /webhooks/highlevel/" in text
    assert "Lists changes since a time (polled): contact" in text
    assert "Lists per contact: appointment, note, task" in text
    rest = page.locator("h2", has_text="Generic REST partner")
    assert "Lists: per connection" in rest.locator("xpath=following-sibling::p[1]").inner_text()
    screenshot(page, "7-catalog-capabilities")
    page.locator("h2", has_text="HighLevel CRM").evaluate("h => h.scrollIntoView()")
    page.screenshot(path=str(ARTIFACTS / "7-catalog-crm-capabilities.png"))  # the CRM's part


def test_a_connection_shows_its_poll_and_reconcile_schedule_and_dry_run(logged_in, live_server):
    page = logged_in
    conn = ConnectionFactory(workspace=WorkspaceFactory(name="Acme"), name="Main CRM")
    page.goto(f"{live_server.url}/admin/sync/connection/{conn.pk}/change/")
    assert page.input_value("#id_poll_interval_minutes") == "5"
    assert page.input_value("#id_reconcile_interval_hours") == "24"
    assert not page.is_checked("#id_dry_run")
    page.fill("#id_poll_interval_minutes", "10")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    conn.refresh_from_db()
    assert conn.poll_interval_minutes == 10
    screenshot(page, "7-connection-poll-schedule")
