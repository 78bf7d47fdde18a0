""" "Add a connection from a preset": the admin's face of `connections add rest --preset …`.

The operator picks a preset, fills what its auth needs, confirms the paths the preset marks as
guesses, and saves. The connection is made by the command's own service (`connection_add`),
then tested with a cheap read inside the same transaction: if the partner refuses the
credentials, nothing is kept (unless the operator chose to save untested).
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from portal.admin_base import operator
from portal.models import Workspace
from sync.connectors.base import TestResult
from sync.connectors.checks import test_connection
from sync.connectors.partner import guard
from sync.models import Connection, RestPreset
from sync.presets import CREDENTIALS
from sync.services import connection_add
from sync.transport.ssrf import UnsafeURL

SECRET_FIELDS = ("token", "api_key", "client_id", "client_secret")


def _secret(label: str) -> forms.CharField:
    return forms.CharField(label=label, required=False, strip=True,
                           widget=forms.PasswordInput(render_value=False))  # fmt: skip


class PresetConnectionForm(forms.Form):
    preset = forms.ModelChoiceField(RestPreset.objects.all(), empty_label="— choose a preset —")
    name = forms.CharField(max_length=100, help_text="How operators will see it, e.g. “Shop”.")
    workspace = forms.ModelChoiceField(Workspace.objects.all())
    base_url = forms.URLField(
        label="Base URL", assume_scheme="https", help_text="The partner's API root."
    )
    token = _secret("Bearer token")
    api_key = _secret("API key")
    client_id = _secret("Client id")
    client_secret = _secret("Client secret")
    paths_confirmed = forms.BooleanField(
        required=False, label="I have checked the paths below with the partner's documentation"
    )
    save_untested = forms.BooleanField(
        required=False, label="Save even if the test fails (the partner is not reachable yet)"
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        preset = cleaned.get("preset")
        if preset is None:
            return cleaned
        auth_type = (preset.config.get("auth") or {}).get("type", "bearer")
        for name in CREDENTIALS.get(auth_type, ()):
            if not cleaned.get(name):
                self.add_error(name, f"The {preset.name} preset ({auth_type} auth) needs this.")
        if preset.paths_to_confirm() and not cleaned.get("paths_confirmed"):
            self.add_error("paths_confirmed", "Confirm the paths listed for this preset first.")
        if cleaned.get("base_url"):
            try:
                guard(cleaned["base_url"])
            except UnsafeURL as exc:
                self.add_error("base_url", str(exc))
        return cleaned

    def command_options(self) -> dict[str, Any]:
        """The options `connections add rest` would have parsed."""
        data = self.cleaned_data
        return {
            "name": data["name"], "workspace": data["workspace"].slug,
            "base_url": data["base_url"], "preset": data["preset"].slug, "config": None,
            "auth_type": None, "api_key_header": None, "api_key_prefix": None,
            "allow_private_network": False, "dry_run": False,
            **{name: data.get(name) or "" for name in SECRET_FIELDS},
        }  # fmt: skip


def presets_overview() -> list[dict[str, Any]]:
    """Per preset: what it needs and the paths to confirm (shown beside the form)."""
    return [
        {"preset": p, "auth": (p.config.get("auth") or {}).get("type", "bearer"),
         "needs": CREDENTIALS.get((p.config.get("auth") or {}).get("type", "bearer"), ()),
         "paths": p.paths_to_confirm(), "objects": sorted(p.config.get("objects") or {})}
        for p in RestPreset.objects.all()
    ]  # fmt: skip


def _add_and_test(
    form: PresetConnectionForm, request: HttpRequest
) -> tuple[Connection | None, TestResult]:
    with transaction.atomic():
        connection, _note = connection_add("rest", form.command_options(), actor=operator(request))
        result = test_connection(connection)
        if not result.ok and not form.cleaned_data["save_untested"]:
            transaction.set_rollback(True)  # the connection, its mappings and audit rows go
            return None, result
    return connection, result


def preset_connection_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("sync.add_connection"):
        raise PermissionDenied
    form = PresetConnectionForm(request.POST or None, initial=request.GET or None)
    failure = ""
    if request.method == "POST" and form.is_valid():
        try:
            connection, result = _add_and_test(form, request)
        except ValueError as exc:
            connection, result = None, TestResult(False, str(exc))
        if connection is not None:
            level = messages.SUCCESS if result.ok else messages.WARNING
            preset = form.cleaned_data["preset"]
            text = f"Added {connection} from the {preset} preset. Test: {result.message}"
            messages.add_message(request, level, text)
            return redirect(reverse("admin:sync_connection_change", args=[connection.pk]))
        failure = f"The test failed, nothing was saved: {result.message}"
    context = {**admin.site.each_context(request), "title": "Add a connection from a preset",
               "form": form, "failure": failure, "presets": presets_overview(),
               "opts": Connection._meta}  # fmt: skip
    return TemplateResponse(request, "admin/sync/connection/from_preset.html", context)
