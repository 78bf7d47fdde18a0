"""Operator pages for how records map: field mappings and rules (each with a link to try the
connection's payload on a record), and the links between mirror records and remote ids."""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from portal.admin_base import AuditedModelAdmin
from portal.admin_scoping import WorkspaceScopedAdmin
from portal.pagination import EstimatedCountPaginator
from sync.console.editors import ConditionsField, to_editor
from sync.console.filters import ConnectionFilter, WithoutCredentialsMixin
from sync.console.mapping_form import FieldMappingForm
from sync.mapping.rules import RuleError, validate_conditions
from sync.models import FieldMapping, Link, Rule


class RuleForm(forms.ModelForm):
    """Conditions in the condition editor (sync/console/editors.py), or as raw JSON for a rule
    nested deeper than the editor shows."""

    class Meta:
        model = Rule
        fields = ("connection", "name", "object_type", "kind", "conditions", "action",
                  "action_argument", "active", "position")  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if to_editor(self.instance.conditions or {}) is not None:
            self.fields["conditions"] = ConditionsField(label="Conditions")

    def clean_conditions(self):
        conditions = self.cleaned_data["conditions"]
        try:
            validate_conditions(conditions)
        except RuleError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return conditions


class PreviewLinkMixin:
    """A "test against a record" link to the connection's payload preview."""

    @admin.display(description="preview")
    def preview_link(self, obj) -> str:
        if not obj.connection_id:
            return "-"
        url = reverse("admin:sync_connection_preview", args=[obj.connection_id])
        return format_html('<a href="{}?object_type={}">Test against a record</a>', url,
                           obj.object_type)  # fmt: skip


@admin.register(FieldMapping)
class FieldMappingAdmin(WorkspaceScopedAdmin, WithoutCredentialsMixin, PreviewLinkMixin,
                         AuditedModelAdmin):  # fmt: skip
    workspace_path = "connection__workspace"
    form = FieldMappingForm
    list_display = ("connection", "object_type", "mirror_field", "remote_path", "direction",
                    "transform", "position", "preview_link")  # fmt: skip
    readonly_fields = ("preview_link",)
    list_filter = ("object_type", "direction", "transform", ("connection", ConnectionFilter))
    list_select_related = ("connection",)
    show_full_result_count = False


@admin.register(Rule)
class RuleAdmin(WorkspaceScopedAdmin, WithoutCredentialsMixin, PreviewLinkMixin,
                AuditedModelAdmin):  # fmt: skip
    workspace_path = "connection__workspace"
    form = RuleForm
    list_display = ("name", "connection", "object_type", "kind", "action", "active",
                    "preview_link")  # fmt: skip
    readonly_fields = ("preview_link",)
    list_filter = ("kind", "object_type", "active", ("connection", ConnectionFilter))
    list_select_related = ("connection",)
    show_full_result_count = False


@admin.register(Link)
class LinkAdmin(WorkspaceScopedAdmin, WithoutCredentialsMixin, admin.ModelAdmin):
    workspace_path = "connection__workspace"
    list_display = ("object_type", "object_id", "remote_id", "connection", "last_pushed_at")
    list_filter = ("object_type", ("connection", ConnectionFilter))
    search_fields = ("=remote_id", "=object_id")
    list_select_related = ("connection",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = ("created_at", "updated_at")
