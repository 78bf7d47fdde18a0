"""The console's admin site: workspace scoping for every registered admin, an optional TOTP
second factor at login, and REQUIRE_2FA for those who reach every workspace.

Installed as the default `admin.site` by `portal.apps.PortalAdminConfig`.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django_otp import devices_for_user

from portal.access import reaches_everything
from portal.admin_scoping import AgencyOnlyAdmin, WorkspaceScopedAdmin


class OtpAuthenticationForm(AdminAuthenticationForm):
    """Username and password, plus the authenticator code once the user has turned TOTP on.

    A wrong code counts as a failed login (django-axes locks out after AXES_FAILURE_LIMIT).
    """

    otp_token = forms.CharField(
        required=False,
        max_length=8,
        label="Authenticator code",
        help_text="Only if you turned on two-factor authentication.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is not None:
            device = self._verified_device(user, (cleaned.get("otp_token") or "").strip())
            if device is False:
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": user.get_username()},
                    request=self.request,
                )
                raise forms.ValidationError(
                    "Enter the current code from your authenticator app.", code="invalid_otp"
                )
            if device is not None:
                user.otp_device = device  # django_otp marks the session verified on login
        return cleaned

    @staticmethod
    def _verified_device(user, token: str):
        """The device that accepts the token; None when the user has none; False when refused."""
        with transaction.atomic():
            devices = list(devices_for_user(user, confirmed=True, for_verify=True))
            if not devices:
                return None
            for device in devices:
                if token and device.verify_token(token):
                    return device
        return False


def second_factor_missing(request: HttpRequest) -> bool:
    """REQUIRE_2FA: superusers and agency admins use the admin only after a TOTP code."""
    user = request.user
    if not settings.REQUIRE_2FA or not user.is_authenticated or not reaches_everything(user):
        return False
    is_verified = getattr(user, "is_verified", None)
    return not (is_verified and is_verified())


class PortalAdminSite(admin.AdminSite):
    login_form = OtpAuthenticationForm

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, WorkspaceScopedAdmin):
            # Fail closed: an admin that does not say how its rows map to workspaces is for
            # agency admins and superusers only.
            admin_class = type(
                f"AgencyOnly{admin_class.__name__}",
                (AgencyOnlyAdmin, admin_class),
                {"__module__": admin_class.__module__},
            )
        super().register(model_or_iterable, admin_class, **options)

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not second_factor_missing(request)

    def login(self, request: HttpRequest, extra_context=None):
        if request.method == "GET" and second_factor_missing(request):
            return HttpResponseRedirect(reverse("admin:two_factor", current_app=self.name))
        return super().login(request, extra_context)

    def get_urls(self):
        from portal.two_factor import two_factor_view

        page = path("two-factor/", two_factor_view, name="two_factor")
        return [page, *super().get_urls()]
