"""The operator console's cross-cutting pages: workspaces and the audit trail."""

import json

from django.contrib import admin
from django.utils.html import format_html

from portal.admin_base import AuditedModelAdmin, ReadOnlyAdminMixin
from portal.admin_filters import recent_values_filter
from portal.admin_scoping import WorkspaceScopedAdmin
from portal.csv_export import CsvExportMixin
from portal.models import AuditEntry, Workspace
from portal.pagination import EstimatedCountPaginator

admin.site.site_header = "CRM Sync Portal"
admin.site.site_title = "CRM Sync Portal"
admin.site.index_title = "Operator console"


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
