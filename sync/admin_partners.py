"""Admin for partner connectors: REST presets (with the paths to confirm), the operations
catalog, the webhook secret rotation action, the SSRF check of typed-in URLs and the rule that
whoever changes where a connection's credentials go must type the credentials again.
Imported by sync/admin.py."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html_join

from portal.admin_base import AuditedModelAdmin
from portal.admin_scoping import WorkspaceScopedAdmin
from sync.catalog import catalog
from sync.connectors import connector_class
from sync.connectors.partner import guard
from sync.connectors.webhook_secrets import first_secret, live_secrets, rotate_secret
from sync.models import Connection, OperationsCatalog, RestPreset
from sync.transport.ssrf import ALLOW_PRIVATE, UnsafeURL


def check_partner_url(form: forms.ModelForm) -> None:
    """Connection form validation: the base URL passes the provider's policy (the CRM: its own
    API host) and, for connectors that guard their URLs, the SSRF guard."""
    data = form.cleaned_data
    provider, url = data.get("provider"), data.get("base_url")
    if not provider or not url:
        return
    try:
        connector = connector_class(provider)
    except ValueError:
        return
    try:
        connector.check_base_url(url, dry_run=bool(data.get("dry_run")))
        if getattr(connector, "guards_urls", False):
            guard(url, data.get("options") or {})
    except UnsafeURL as exc:
        form.add_error("base_url", str(exc))


# Options that decide where (and how) the credentials are sent.
CREDENTIAL_TARGET_OPTIONS = ("auth", ALLOW_PRIVATE)


def credential_target_changes(connection: Connection, new: dict[str, Any]) -> list[str]:
    """The fields among `new` that would send the stored credentials somewhere else: the
    provider, the base URL (its host above all), the auth options or private-network access."""
    changed = [
        name
        for name in ("provider", "base_url")
        if name in new and new[name] != getattr(connection, name)
    ]
    if "options" in new:
        before, after = connection.options or {}, new["options"] or {}
        changed += [
            f"options.{key}"
            for key in CREDENTIAL_TARGET_OPTIONS
            if before.get(key) != after.get(key)
        ]
    return changed


def require_credentials_for_new_target(form: forms.ModelForm, user: Any) -> None:
    """Connection form validation: a staff user who may change connections but does not know
    their credentials cannot point them at a listener of their own. Changing the target needs
    the credentials typed again (or a superuser)."""
    connection = form.instance
    if connection.pk is None or form.cleaned_data.get("new_credentials"):
        return
    if user is not None and user.is_superuser:
        return
    changed = credential_target_changes(connection, form.cleaned_data)
    if changed and connection.credentials:
        form.add_error(
            "new_credentials",
            f"Changing {', '.join(changed)} changes where the stored credentials are sent: "
            "type the credentials again to confirm (or ask a superuser).",
        )


@admin.action(description="Rotate webhook signing secret (old one signs 24 h more)")
def rotate_webhook_secret(
    modeladmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    hooks = list(queryset.model.objects.filter(pk__in=queryset.values("pk"), provider="webhook"))
    if not hooks:
        modeladmin.message_user(request, "Select webhook connections.", messages.WARNING)
        return None
    # Rendered once in this response, never stored in messages or logs.
    rotated = [(hook, rotate_secret(hook)) for hook in hooks]
    context = {**modeladmin.admin_site.each_context(request), "rotated": rotated,
               "title": "New webhook signing secrets", "opts": Connection._meta}  # fmt: skip
    response = TemplateResponse(request, "admin/sync/webhook_secrets.html", context)
    response["Cache-Control"] = "no-store"
    return response


def give_new_webhook_a_secret(connection: Connection) -> str | None:
    """A webhook connection added in the admin gets its signing secret (returned to show once)."""
    if connection.provider != "webhook" or live_secrets(connection):
        return None
    connection.credentials = first_secret()
    return connection.credentials["secrets"][0]["secret"]


def show_new_webhook_secret(
    modeladmin, request: HttpRequest, connection: Connection, secret: str
) -> HttpResponse:
    """Rendered once into this response (like a new API key), never stored in messages."""
    title = f"Webhook connection “{connection}” added: copy its signing secret"
    context = {**modeladmin.admin_site.each_context(request), "rotated": [(connection, secret)],
               "created": True, "opts": Connection._meta, "title": title}  # fmt: skip
    response = TemplateResponse(request, "admin/sync/webhook_secrets.html", context)
    response["Cache-Control"] = "no-store"
    return response


@admin.register(RestPreset)
class RestPresetAdmin(WorkspaceScopedAdmin, AuditedModelAdmin):
    workspace_path = None  # presets serve every workspace: agency admins change them
    list_display = ("name", "slug", "paths_to_confirm_list", "updated_at")
    readonly_fields = ("paths_to_confirm_list",)
    search_fields = ("name", "slug")

    @admin.display(description="Paths the operator must confirm")
    def paths_to_confirm_list(self, obj: RestPreset) -> str:
        return format_html_join(
            "", "<div><code>{}</code></div>", ((p,) for p in obj.paths_to_confirm())
        )


@admin.register(OperationsCatalog)
class OperationsCatalogAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    """A page, not a table: every provider's capabilities, triggers and actions (also at
    GET /api/v1/catalog/)."""

    workspace_path = None  # describes the portal, holds no workspace's data

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "catalog": catalog(),
                   "title": "Operations catalog", "opts": self.model._meta}  # fmt: skip
        return TemplateResponse(request, "admin/sync/operations_catalog.html", context)
