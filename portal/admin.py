"""The operator console's cross-cutting pages: workspaces and the audit trail."""

import json

from django.contrib import admin
from django.db import models, transaction
from django.http import HttpRequest
from django.utils.html import format_html

from portal.actors import Actor
from portal.admin_filters import recent_values_filter
from portal.admin_scoping import WorkspaceScopedAdmin
from portal.audit import field_changes, record_change
from portal.csv_export import CsvExportMixin
from portal.models import AuditAction, AuditEntry, Workspace
from portal.pagination import EstimatedCountPaginator

admin.site.site_header = "CRM Sync Portal"
admin.site.site_title = "CRM Sync Portal"
admin.site.index_title = "Operator console"


def https_formfield(field: models.Field, **kwargs):
    """Model forms' URL fields assume https for a bare host (Django 6's default, chosen now)."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


def operator(request: HttpRequest) -> Actor:
    return Actor.operator(request.user, request_id=getattr(request, "request_id", ""))


class ReadOnlyAdminMixin:
    """Records the system writes and operators only read (the audit trail, the outbox, remote
    calls): no Add, no Save, no Delete, and plain titles — "Outbound changes" and "Outbound
    change 12", not "Select outbound change to change". Admin actions still work."""

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        title = self.model._meta.verbose_name_plural.capitalize()
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None):  # fmt: skip
        title = f"{self.model._meta.verbose_name.capitalize()} {object_id}"
        return super().change_view(request, object_id, form_url,
                                   {"title": title, **(extra_context or {})})  # fmt: skip


class AuditedModelAdmin(admin.ModelAdmin):
    """Configuration objects (workspaces, connections, keys, mappings): every change audited."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            if change:
                before = type(obj).objects.get(pk=obj.pk)
                new_values = {name: getattr(obj, name) for name in form.changed_data}
                changes = field_changes(before, new_values)
            else:
                changes = {
                    name: [None, getattr(obj, name)]
                    for name in form.changed_data
                    if hasattr(obj, name)
                }
            super().save_model(request, obj, form, change)
            if changes or not change:
                action = AuditAction.UPDATE if change else AuditAction.CREATE
                record_change(actor=operator(request), action=action, instance=obj, changes=changes)

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            record_change(
                actor=operator(request), action=AuditAction.DELETE, instance=obj, changes={}
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


def _shown(value) -> str:
    """A recorded value as JSON with its characters as they are (a mask is •••, not \\u2022)."""
    return json.dumps(value, ensure_ascii=False)


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin, AuditedModelAdmin):
    workspace_path = "id"
    agency_changes_only = True  # operators see their workspaces; agency admins shape them
    list_display = ("name", "location_id", "slug", "created_at")
    search_fields = ("name", "location_id", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(AuditEntry)
class AuditEntryAdmin(WorkspaceScopedAdmin, ReadOnlyAdminMixin, CsvExportMixin, admin.ModelAdmin):
    """Append-only: operators read and filter it, nobody edits it."""

    list_display = ("created_at", "action", "object_label", "actor", "source", "workspace")
    list_filter = (
        "action",
        "actor_kind",
        recent_values_filter("object_type", "object type", "-created_at"),
        recent_values_filter("source", "source", "-created_at"),
        "workspace",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("=object_id", "object_repr", "actor_label", "=request_id")
    list_select_related = ("workspace",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    csv_fields = (
        "id",
        "created_at",
        "workspace__slug",
        "actor_kind",
        "actor_label",
        "source",
        "request_id",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "changes",
    )
    readonly_fields = [f.name for f in AuditEntry._meta.fields if f.name != "changes"] + [
        "changes_table"
    ]
    exclude = ("changes",)

    @admin.display(description="object", ordering="object_type")
    def object_label(self, entry: AuditEntry) -> str:
        return format_html('{}<br><span class="muted">{} {}</span>', entry.object_repr,
                           entry.object_type, entry.object_id)  # fmt: skip

    @admin.display(description="actor", ordering="actor_label")
    def actor(self, entry: AuditEntry) -> str:
        return format_html('{}<br><span class="muted">{}</span>', entry.actor_label,
                           entry.get_actor_kind_display())  # fmt: skip

    @admin.display(description="Changes")
    def changes_table(self, entry: AuditEntry) -> str:
        rows = format_html(
            "".join(["<tr><td>{}</td><td>{}</td><td>{}</td></tr>"] * len(entry.changes)),
            *(
                part
                for field, (before, after) in entry.changes.items()
                for part in (field, _shown(before), _shown(after))
            ),
        )
        return format_html(
            "<table><thead><tr><th>Field</th><th>Before</th><th>After</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )


from portal import apikey_admin, membership_admin  # noqa: E402, F401  (register their admins)
