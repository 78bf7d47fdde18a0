"""The console under the Content-Security-Policy: the pages work, and nothing is blocked.

The autouse fixture `no_csp_violations` (conftest) fails any browser test whose pages trip the
policy; these tests walk the pages that carry the most JavaScript and check it ran.
"""

import pytest

from tests.browser.conftest import screenshot
from tests.factories import ContactFactory, WorkspaceFactory
from tests.sync.factories import ConnectionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_the_partner_api_under_the_policy(page, live_server, no_csp_violations):
    page.set_default_timeout(15_000)
    response = page.goto(f"{live_server.url}/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .opblock")  # rendered by the bundle and our start-up file
    assert page.locator(".swagger-ui .opblock").count() > 10
    screenshot(page, "swagger-ui-csp")
    assert no_csp_violations == []


def test_admin_widgets_run_their_scripts_under_the_policy(logged_in, live_server):
    page = logged_in
    workspace = WorkspaceFactory(name="Acme")
    ContactFactory(workspace=workspace, first_name="Ada")
    # prepopulated_fields: typing the name fills the slug (admin/js/prepopulate*.js).
    page.goto(f"{live_server.url}/admin/portal/workspace/add/")
    page.locator("#id_name").press_sequentially("North Shop")
    assert page.input_value("#id_slug") == "north-shop"
    # filter_horizontal (SelectFilter2.js) builds its two boxes.
    page.goto(f"{live_server.url}/admin/portal/apikey/add/")
    page.wait_for_selector("#id_workspaces_from")
    # Action checkboxes (actions.js) count the selection.
    page.goto(f"{live_server.url}/admin/contacts/contact/")
    page.check("#action-toggle")
    assert "1 of 1 selected" in page.locator(".action-counter").inner_text()
    # Date widgets (calendar.js, DateTimeShortcuts.js) add their shortcuts.
    contact_url = page.locator("#result_list tbody a").first.get_attribute("href")
    page.goto(f"{live_server.url}{contact_url}")
    page.wait_for_selector(".datetimeshortcuts")
    screenshot(page, "contact-change-csp")


def test_dashboard_and_two_factor_page_render_under_the_policy(logged_in, live_server):
    page = logged_in
    ConnectionFactory(workspace=WorkspaceFactory(name="Acme"), name="Main CRM")
    page.click("#dashboard-link")
    page.wait_for_selector("#connection-health")
    page.goto(f"{live_server.url}/admin/two-factor/")
    assert page.locator(".qr-code svg").count() == 1
    screenshot(page, "two-factor-csp")
