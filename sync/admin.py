"""Operator pages for sync: connections (credentials write-only, a test call, webhook secrets).
The other pages live beside what they show: mappings, rules and links (sync/mapping/admin.py),
the outbox and delivery attempts (sync/engine/admin.py), automations, inbound events."""

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path
from django.utils.html import format_html

from portal.admin_base import AuditedModelAdmin, https_formfield
from portal.admin_scoping import WorkspaceScopedAdmin
from sync.admin_partners import (
    check_partner_url,
    give_new_webhook_a_secret,
    require_credentials_for_new_target,
    rotate_webhook_secret,
    show_new_webhook_secret,
)
from sync.connectors.checks import test_connection
from sync.console.preset_view import preset_connection_view
from sync.console.preview import preview_view
from sync.inbound.partner_formats import format_errors
from sync.inbound.policy import grants, permission_errors
from sync.models import Connection
from sync.models.presets import validate_config


def rest_option_errors(options: object) -> list[str]:
    """What is wrong with a REST connection's options: its operations and reads (list, get),
    and its webhook format."""
    if not isinstance(options, dict):
        return ["Enter a JSON object."]
    errors = []
    if "objects" in options:
        try:
            validate_config(options)
        except ValueError as exc:
            errors.append(str(exc))
    return errors + format_errors(options.get("webhooks"))


class ConnectionForm(forms.ModelForm):
    """Credentials are write-only: a JSON object typed in replaces them; blank keeps them."""

    new_credentials = forms.JSONField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text='Replace the stored credentials, e.g. {"token": "pit-…"}. Never shown.',
    )

    class Meta:
        model = Connection
        formfield_callback = https_formfield
        fields = (
            "workspace", "provider", "name", "slug", "active", "primary", "base_url",
            "new_credentials", "test_new_credentials", "location_id", "company_id", "scopes",
            "options",
            "users_direction", "contacts_direction", "tasks_direction", "notes_direction",
            "appointments_direction", "source_of_truth", "inbound_permissions",
            "may_write_privileged_user_fields", "rate_limit_requests",
            "rate_limit_interval_seconds", "rate_limit_daily", "dry_run",
        )  # fmt: skip

    test_new_credentials = forms.BooleanField(
        required=False,
        initial=True,
        label="Test before swapping",
        help_text="Try the new credentials (a cheap read) first; if that fails, nothing is saved "
        "and the stored credentials keep working.",
    )

    request_user = None  # set by ConnectionAdmin.get_form

    @property
    def changed_data(self) -> list[str]:
        # The audit records "credentials" as changed (masked), never the typed value.
        names = [n for n in super().changed_data if n != "test_new_credentials"]
        return ["credentials" if n == "new_credentials" else n for n in names]

    def clean_new_credentials(self):
        value = self.cleaned_data.get("new_credentials")
        if value not in (None, "") and not isinstance(value, dict):
            raise forms.ValidationError("Enter a JSON object.")
        return value

    def clean_inbound_permissions(self):
        value = self.cleaned_data.get("inbound_permissions") or {}
        errors = permission_errors(value)
        if errors:
            raise forms.ValidationError(errors)
        return value

    def clean_options(self):
        value = self.cleaned_data.get("options") or {}
        if self.cleaned_data.get("provider") == "rest":
            problems = rest_option_errors(value)
            if problems:
                raise forms.ValidationError(problems)
        return value

    def clean(self):
        cleaned = super().clean()
        check_partner_url(self)  # SSRF guard for partner-supplied URLs
        require_credentials_for_new_target(self, self.request_user)
        if (
            cleaned.get("new_credentials")
            and cleaned.get("test_new_credentials")
            and not self.errors
        ):
            self._try_new_credentials(cleaned["new_credentials"])
        return cleaned

    def _try_new_credentials(self, credentials: dict) -> None:
        """The swap happens only if the remote accepts the new credentials."""
        fields = [f for f in Connection._meta.concrete_fields if f.name != "credentials"]
        trial = Connection(**{f.attname: getattr(self.instance, f.attname) for f in fields})
        for name in ("provider", "base_url", "location_id", "company_id", "options"):
            if name in self.cleaned_data:
                setattr(trial, name, self.cleaned_data[name])
        trial.credentials = credentials
        result = test_connection(trial)
        if not result.ok:
            self.add_error("new_credentials", f"The new credentials failed the test: "
                           f"{result.message} Nothing was changed.")  # fmt: skip

    def save(self, commit: bool = True) -> Connection:
        if self.cleaned_data.get("new_credentials"):
            self.instance.credentials = self.cleaned_data["new_credentials"]
        return super().save(commit)


@admin.register(Connection)
class ConnectionAdmin(WorkspaceScopedAdmin, AuditedModelAdmin):
    form = ConnectionForm
    list_display = ("name_and_state", "provider", "workspace", "health", "last_success_at",
                    "last_error_at")  # fmt: skip
    list_filter = ("provider", "active", "dry_run", "health", "workspace")
    search_fields = ("name", "slug", "location_id")
    list_select_related = ("workspace",)
    readonly_fields = ("health", "last_success_at", "last_error_at", "last_error", "deleted_at",
                       "deleted_by", "created_at", "inbound_grants_in_effect")  # fmt: skip
    prepopulated_fields = {"slug": ("name",)}
    actions = ("test_connections", rotate_webhook_secret)
    show_full_result_count = False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", view(preview_view), name="sync_connection_preview"),
            path("from-preset/", view(preset_connection_view), name="sync_connection_from_preset"),
            *super().get_urls(),
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The credentials column is never loaded here, so the page works even without the key.
        return super().get_queryset(request).defer("credentials")

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)  # a new class per call
        form.request_user = request.user
        return form

    @admin.display(description="name", ordering="name")
    def name_and_state(self, connection: Connection) -> str:
        state = [] if connection.active else ["inactive"]
        state += ["dry run"] if connection.dry_run else []
        return format_html('<strong>{}</strong><br><span class="muted">{}</span>', connection.name,
                           " · ".join(state) or "active")  # fmt: skip

    @admin.action(description="Test connection (a cheap read; reports missing scopes)")
    def test_connections(self, request: HttpRequest, queryset: QuerySet) -> None:
        for connection in queryset.model.objects.filter(pk__in=queryset.values("pk")):
            result = test_connection(connection)
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, f"{connection}: {result.message}", level)

    @admin.display(description="Inbound grants in effect")
    def inbound_grants_in_effect(self, obj: Connection) -> str:
        """What the connection may write here now (its own grants, or its connector's)."""
        if obj.pk is None:
            return "-"
        return format_html("<pre>{}</pre>", json.dumps(grants(obj), indent=2, sort_keys=True))

    def save_model(self, request: HttpRequest, obj: Connection, form, change: bool) -> None:
        if not change:
            request._new_webhook_secret = give_new_webhook_a_secret(obj)
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: Connection, post_url_continue=None):
        secret = getattr(request, "_new_webhook_secret", None)
        if secret:
            return show_new_webhook_secret(self, request, obj, secret)
        return super().response_add(request, obj, post_url_continue)

    def delete_model(self, request: HttpRequest, obj: Connection) -> None:
        # Connections are tombstoned so their history (outbox, attempts, links) stays.
        obj.soft_delete(by=request.user.get_username())


# The other pages register themselves where they live.
from sync.automations import admin as _automations_admin  # noqa: E402, F401
from sync.engine import admin as _engine_admin  # noqa: E402, F401
from sync.inbound import admin as _inbound_admin  # noqa: E402, F401
from sync.mapping import admin as _mapping_admin  # noqa: E402, F401
