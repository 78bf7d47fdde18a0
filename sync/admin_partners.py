"""Admin for partner connectors: REST presets (with the paths to confirm), the operations
catalog, the webhook secret rotation action and the SSRF check of typed-in URLs.
Imported by sync/admin.py."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html_join

from portal.admin import AuditedModelAdmin
from sync.catalog import catalog
from sync.connectors import connector_class
from sync.connectors.partner import guard
from sync.connectors.webhook_secrets import first_secret, live_secrets, rotate_secret
from sync.models import Connection, OperationsCatalog, RestPreset
from sync.ssrf import UnsafeURL


def check_partner_url(form: forms.ModelForm) -> None:
    """Connection form validation: URLs of partner connectors pass the SSRF guard."""
    data = form.cleaned_data
    provider, url = data.get("provider"), data.get("base_url")
    if not provider or not url:
        return
    try:
        guarded = getattr(connector_class(provider), "guards_urls", False)
    except ValueError:
        return
    if guarded:
        try:
            guard(url, data.get("options") or {})
        except UnsafeURL as exc:
            form.add_error("base_url", str(exc))


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
class RestPresetAdmin(AuditedModelAdmin):
    list_display = ("name", "slug", "paths_to_confirm_list", "updated_at")
    readonly_fields = ("paths_to_confirm_list",)
    search_fields = ("name", "slug")

    @admin.display(description="Paths the operator must confirm")
    def paths_to_confirm_list(self, obj: RestPreset) -> str:
        return format_html_join(
            "", "<div><code>{}</code></div>", ((p,) for p in obj.paths_to_confirm())
        )


@admin.register(OperationsCatalog)
class OperationsCatalogAdmin(admin.ModelAdmin):
    """A page, not a table: every trigger and action (also at GET /api/v1/catalog/)."""

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
