"""Self-service TOTP for operators: scan the QR code, confirm with a code, and from then on
the admin login asks for a code. Turning it off needs a current code too. Both are audited.

Reachable by any active staff user, also before REQUIRE_2FA lets them into the rest of the admin
(that is how a superuser without a device gets one).
"""

from __future__ import annotations

import base64

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.actors import Actor
from portal.audit import record_change
from portal.models import AuditAction

DEVICE_NAME = "Authenticator app"


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=8,
        label="Code from the app",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308  (markup we generated)


def _audit(request: HttpRequest, before: bool, after: bool) -> None:
    actor = Actor.operator(request.user, request_id=getattr(request, "request_id", ""))
    record_change(
        actor=actor,
        action=AuditAction.UPDATE,
        instance=request.user,
        changes={"two_factor_totp": [before, after]},
    )


def _confirm(request: HttpRequest, device: TOTPDevice, code: str) -> bool:
    with transaction.atomic():
        if not device.verify_token(code):
            return False
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        _audit(request, False, True)
    django_otp.login(request, device)  # this session now counts as verified
    return True


def _turn_off(request: HttpRequest, device: TOTPDevice, code: str) -> bool:
    with transaction.atomic():
        if not device.verify_token(code):
            return False
        TOTPDevice.objects.filter(user=request.user).delete()
        _audit(request, True, False)
    return True


@never_cache
def two_factor_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not (user.is_active and user.is_staff):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = confirmed or TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        act = _turn_off if confirmed else _confirm
        if act(request, device, form.cleaned_data["code"]):
            done = "turned off" if confirmed else "turned on"
            messages.success(request, f"Two-factor authentication {done}.")
            return HttpResponseRedirect(reverse("admin:two_factor"))
        form.add_error("code", "That code is not valid now. Try the current one.")
    context = {
        **admin.site.each_context(request),
        "title": "Two-factor authentication",
        "enabled": confirmed is not None,
        "form": form,
        "qr_svg": "" if confirmed else _qr_svg(device.config_url),
        "secret": "" if confirmed else base64.b32encode(device.bin_key).decode(),
    }
    return TemplateResponse(request, "admin/portal/two_factor.html", context)
