"""Admin login hardening (issue #15, rows 2 and 10): lockout after AXES_FAILURE_LIMIT wrong
tries (django-axes), an optional TOTP second factor (django-otp) that REQUIRE_2FA makes
mandatory for superusers and agency admins, and the Content-Security-Policy header."""

import pytest
from axes.models import AccessAttempt
from django.test import override_settings
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.models import AuditEntry, WorkspaceMembership, WorkspaceRole

PASSWORD = "login-test-password"
LOGIN = "/admin/login/"


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)


def current_code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """What the operator's authenticator app shows now (the test computes it like the app)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time += steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def log_in(client, password=PASSWORD, code=""):
    return client.post(LOGIN, {"username": "root", "password": password, "otp_token": code,
                               "next": "/admin/"})  # fmt: skip


@override_settings(AXES_FAILURE_LIMIT=3)
def test_wrong_passwords_lock_the_account_out_after_the_configured_tries(client, superuser):
    for _ in range(2):
        assert log_in(client, password="wrong").status_code == 200  # the form again, with error
    locked = log_in(client, password="wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # Locked means locked: the right password does not get in until the cool-off ends.
    assert log_in(client).status_code == 429
    assert AccessAttempt.objects.get(username="root").failures_since_start >= 3
    assert client.get("/admin/").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_good_login_resets_the_count(client, superuser):
    log_in(client, password="wrong")
    log_in(client, password="wrong")
    assert log_in(client).status_code == 302
    assert not AccessAttempt.objects.filter(username="root").exists()


def test_force_login_and_the_api_key_still_work_beside_axes(client, superuser, api_key):
    client.force_login(superuser)
    assert client.get("/admin/").status_code == 200
    _, token = api_key
    response = client.get("/api/v1/contacts/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


# django-otp makes the try after a wrong code wait a second (its own tested throttle): off here.
@override_settings(OTP_TOTP_THROTTLE_FACTOR=0)
def test_turning_totp_on_from_the_admin_and_logging_in_with_a_code(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse("admin:two_factor"))
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=superuser, confirmed=False)
    refused = client.post(reverse("admin:two_factor"), {"code": "000000"})
    assert "not valid now" in refused.content.decode()
    enabled = client.post(reverse("admin:two_factor"), {"code": current_code(device)})
    assert enabled.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    entry = AuditEntry.objects.get(object_type="auth.user", object_id=str(superuser.pk))
    assert entry.changes == {"two_factor_totp": [False, True]}

    client.logout()
    without = log_in(client)
    assert without.status_code == 200
    assert "current code from your authenticator" in without.content.decode()
    response = log_in(client, code=current_code(device, steps_ahead=1))
    assert response.status_code == 302, response.context["form"].errors
    assert client.get("/admin/").status_code == 200


@override_settings(AXES_FAILURE_LIMIT=2)
def test_wrong_codes_count_towards_the_lockout(client, superuser):
    device = TOTPDevice.objects.create(user=superuser, name="phone", confirmed=True)
    assert log_in(client, code="123").status_code == 200
    assert log_in(client, code="456").status_code in (200, 429)
    assert log_in(client, code=current_code(device)).status_code == 429


@override_settings(REQUIRE_2FA=True)
def test_require_2fa_sends_a_superuser_without_totp_to_set_it_up(client, superuser):
    client.force_login(superuser)
    index = client.get("/admin/")
    assert index.status_code == 302 and index.url.startswith(LOGIN)
    assert client.get(index.url).url == reverse("admin:two_factor")
    assert client.get(reverse("admin:two_factor")).status_code == 200
    device = TOTPDevice.objects.get(user=superuser)  # made by that visit
    client.post(reverse("admin:two_factor"), {"code": current_code(device)})
    assert client.get("/admin/").status_code == 200  # this session is now verified


@override_settings(REQUIRE_2FA=True)
def test_require_2fa_covers_agency_admins_but_not_workspace_operators(client, django_user_model):
    agency = django_user_model.objects.create_user("agency", password=PASSWORD, is_staff=True)
    WorkspaceMembership.objects.create(user=agency, role=WorkspaceRole.AGENCY_ADMIN)
    operator = django_user_model.objects.create_user("op", password=PASSWORD, is_staff=True)
    client.force_login(agency)
    assert client.get("/admin/").status_code == 302
    client.force_login(operator)
    assert client.get("/admin/").status_code == 200


def test_every_page_carries_the_content_security_policy(client, superuser):
    client.force_login(superuser)
    for url in ("/admin/", LOGIN, "/admin/dashboard/", "/api/docs/", "/api/v1/contacts/"):
        policy = client.get(url)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'", url
        assert directives["default-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert "unsafe" not in directives["style-src"]
