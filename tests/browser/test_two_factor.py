"""As a new operator would: log in, turn on TOTP from the admin, log out, log in with a code."""

import base64

import pytest
from django_otp.oath import TOTP

from tests.browser.conftest import PASSWORD, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def code_from_the_app(secret: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the key it scanned."""
    totp = TOTP(base64.b32decode(secret))
    totp.time = totp.time + steps_ahead * totp.step
    return f"{totp.token():06d}"


def test_turn_on_totp_then_log_in_with_a_code(logged_in, live_server):
    page = logged_in
    page.click("#two-factor-link")
    assert "is off" in page.locator("#two-factor-state").inner_text()
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#id_code", code_from_the_app(secret))
    page.click("#two-factor-form input[type=submit]")
    assert "is on" in page.locator("#two-factor-state").inner_text()
    screenshot(page, "two-factor-on")

    page.click("#logout-form button")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    assert "current code from your authenticator" in page.locator(".errornote").inner_text()
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", code_from_the_app(secret, steps_ahead=1))
    page.click("input[type=submit]")
    page.wait_for_selector("#console-links")
    screenshot(page, "logged-in-with-totp")
