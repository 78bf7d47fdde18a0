"""Operator pages for sync: connections (credentials write-only), links, mappings, rules,
the outbox (with replay) and delivery attempts."""

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator

from portal.admin_base import AuditedModelAdmin, ReadOnlyAdminMixin, https_formfield
from portal.admin_scoping import WorkspaceScopedAdmin
from portal.csv_export import CsvExportMixin
from portal.pagination import EstimatedCountPaginator
from sync.admin_partners import (
    check_partner_url,
    give_new_webhook_a_secret,
    require_credentials_for_new_target,
    rotate_webhook_secret,
    show_new_webhook_secret,
)
from sync.connectors.checks import test_connection
from sync.console.editors import ConditionsField, to_editor
from sync.console.filters import ConnectionFilter, WithoutCredentialsMixin
from sync.console.mapping_form import FieldMappingForm
from sync.console.preset_view import preset_connection_view
from sync.console.preview import preview_view
from sync.console.records import attach_records, record_cell
from sync.console.views import replay_view
from sync.engine.push import process_change, replay
from sync.inbound.partner_formats import format_errors
from sync.inbound.policy import grants, permission_errors
from sync.mapping.rules import RuleError, validate_conditions
from sync.models import (
    REPLAYABLE,
    ChangeStatus,
    Connection,
    DeliveryAttempt,
    FieldMapping,
    Link,
    OutboundChange,
    Rule,
)
from sync.models.presets import validate_config

# "Retry now" pushes in the web request: bounded so a click never holds a worker for long.
RETRY_NOW_LIMIT = 50


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


class DeliveryAttemptInline(WorkspaceScopedAdmin, admin.TabularInline):
    workspace_path = "connection__workspace"
    model = DeliveryAttempt
    fields = ("created_at", "method", "path", "status_code", "outcome", "duration_ms", "error",
              "request_excerpt", "response_excerpt")  # fmt: skip
    readonly_fields = fields
    extra = 0
    ordering = ("-created_at", "-id")  # bounded: a row is tried at most SYNC_MAX_ATTEMPTS times

    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class RecordsOnPageMixin:
    """The changelist names each row's mirror record (one query per object type per page)."""

    record_of = staticmethod(lambda row: row)

    def get_changelist(self, request: HttpRequest, **kwargs):
        base, record_of = super().get_changelist(request, **kwargs), self.record_of

        class WithRecords(base):
            def get_results(self, request):
                super().get_results(request)
                attach_records(self.result_list, record_of)

        return WithRecords


@admin.register(OutboundChange)
class OutboundChangeAdmin(
    WorkspaceScopedAdmin, RecordsOnPageMixin, ReadOnlyAdminMixin, WithoutCredentialsMixin,
    admin.ModelAdmin,
):  # fmt: skip
    workspace_path = "connection__workspace"
    list_display = ("id", "record", "connection", "state", "error_summary")
    list_filter = ("status", ("connection", ConnectionFilter), "object_type", "operation",
                   ("created_at", admin.DateFieldListFilter))  # fmt: skip
    search_fields = ("=object_id", "=id", "=request_id")
    list_select_related = ("connection",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    inlines = (DeliveryAttemptInline,)
    actions = ("retry_now", "replay_rows")
    readonly_fields = ("record",)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("replay/", view(replay_view), name="sync_outboundchange_replay"),
            *super().get_urls(),
        ]

    @admin.display(description="record")
    def record(self, change: OutboundChange) -> str:
        if not hasattr(change, "record"):  # the change page: one row, one query
            attach_records([change])
        return record_cell(change.record, change.object_type, change.object_id)

    @admin.display(description="status", ordering="status")
    def state(self, change: OutboundChange) -> str:
        detail = [f"HTTP {change.last_status_code}"] if change.last_status_code else []
        detail.append(f"{change.attempts} attempt{'s' if change.attempts != 1 else ''}")
        created = date_format(timezone.localtime(change.created_at), "SHORT_DATETIME_FORMAT")
        return format_html('{}<br><span class="muted">{}<br>created {}</span>',
                           change.get_status_display(), " · ".join(detail), created)  # fmt: skip

    @admin.display(description="last error")
    def error_summary(self, change: OutboundChange) -> str:
        return Truncator(change.last_error).chars(140)

    @admin.action(description=f"Retry now (push in this request, up to {RETRY_NOW_LIMIT} rows)")
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.filter(status__in=REPLAYABLE).values_list("id", flat=True)[
            :RETRY_NOW_LIMIT])  # fmt: skip
        replay(OutboundChange.objects.filter(pk__in=ids))
        for change_id in ids:
            process_change(change_id)
        done = OutboundChange.objects.filter(pk__in=ids, status=ChangeStatus.DONE).count()
        level = messages.SUCCESS if done == len(ids) else messages.WARNING
        self.message_user(request, f"Retried {len(ids)} row(s): {done} done, "
                          f"{len(ids) - done} not (see their last error).", level)  # fmt: skip

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return ["record", *(f.name for f in OutboundChange._meta.fields)]

    @admin.action(description="Replay (push again)")
    def replay_rows(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = replay(queryset.exclude(status=ChangeStatus.COALESCED))
        self.message_user(request, f"Re-queued {count} row(s).", messages.SUCCESS)


class MethodFilter(admin.SimpleListFilter):
    """Fixed choices: the default filter would scan the whole table for distinct methods."""

    title = "method"
    parameter_name = "method"

    def lookups(self, request, model_admin):
        verbs = ("GET", "POST", "PUT", "PATCH", "DELETE", "PUSH", "ACTION")
        return [(verb, verb) for verb in verbs]

    def queryset(self, request, queryset):
        return queryset.filter(method=self.value()) if self.value() else queryset


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(
    WorkspaceScopedAdmin, RecordsOnPageMixin, ReadOnlyAdminMixin, WithoutCredentialsMixin,
    CsvExportMixin, admin.ModelAdmin,
):  # fmt: skip
    workspace_path = "connection__workspace"
    list_display = ("created_at", "connection", "call", "result", "record")
    list_filter = (
        "outcome",
        ("connection", ConnectionFilter),
        MethodFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("=change__id",)
    list_select_related = ("connection", "change")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    csv_fields = ("id", "created_at", "connection__name", "change_id", "method", "path",
                  "status_code", "outcome", "duration_ms", "error")  # fmt: skip
    readonly_fields = ("record",)
    record_of = staticmethod(lambda attempt: attempt.change)

    @admin.display(description="call", ordering="path")
    def call(self, attempt: DeliveryAttempt) -> str:
        return f"{attempt.method} {attempt.path}"

    @admin.display(description="result", ordering="outcome")
    def result(self, attempt: DeliveryAttempt) -> str:
        code = f"HTTP {attempt.status_code} · " if attempt.status_code else ""
        return format_html('{}<br><span class="muted">{}{} ms</span>',
                           attempt.get_outcome_display(), code, attempt.duration_ms)  # fmt: skip

    @admin.display(description="record (outbox row)")
    def record(self, attempt: DeliveryAttempt) -> str:
        if not attempt.change_id:
            return "-"
        if not hasattr(attempt, "record"):
            attach_records([attempt], lambda a: a.change)
        url = reverse("admin:sync_outboundchange_change", args=[attempt.change_id])
        return format_html('{}<br><a href="{}" class="muted">outbox row #{}</a>',
                           record_cell(attempt.record), url, attempt.change_id)  # fmt: skip

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return ["record", *(f.name for f in DeliveryAttempt._meta.fields)]


# Automations and inbound events register their own admins.
from sync.automations import admin as _automations_admin  # noqa: E402, F401
from sync.inbound import admin as _inbound_admin  # noqa: E402, F401
