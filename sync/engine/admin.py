"""Operator pages for the outbox (each row's record, status and calls; "retry now" and replay)
and the delivery attempts (every call to a remote, exportable as CSV)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator

from portal.admin_base import ReadOnlyAdminMixin
from portal.admin_scoping import WorkspaceScopedAdmin
from portal.csv_export import CsvExportMixin
from portal.pagination import EstimatedCountPaginator
from sync.console.filters import ConnectionFilter, WithoutCredentialsMixin
from sync.console.records import attach_records, record_cell
from sync.console.views import replay_view
from sync.engine.push import process_change, replay
from sync.models import REPLAYABLE, ChangeStatus, DeliveryAttempt, OutboundChange

# "Retry now" pushes in the web request: bounded so a click never holds a worker for long.
RETRY_NOW_LIMIT = 50


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
