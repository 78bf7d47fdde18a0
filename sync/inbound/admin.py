"""Inbound events in the admin: read-only, filterable, with a pretty payload and "reprocess"."""

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from portal.admin_base import ReadOnlyAdminMixin
from portal.admin_scoping import WorkspaceScopedAdmin
from portal.csv_export import CsvExportMixin
from portal.pagination import EstimatedCountPaginator
from sync.connectors import webhook_receivers
from sync.console.filters import ConnectionFilter, WithoutCredentialsMixin
from sync.inbound import partner_events
from sync.inbound.processing import reprocess
from sync.models import InboundEvent


class EventTypeFilter(admin.SimpleListFilter):
    """The known event types: the default filter would scan every row for distinct values."""

    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        provider_events = [r.event_types for r in webhook_receivers().values()]
        names = sorted(set(partner_events.EVENTS).union(*provider_events))
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


@admin.register(InboundEvent)
class InboundEventAdmin(WorkspaceScopedAdmin, ReadOnlyAdminMixin, WithoutCredentialsMixin,
                        CsvExportMixin, admin.ModelAdmin):  # fmt: skip
    # Unrouted events (no workspace yet) are seen by agency admins and superusers only.
    list_display = ("received_at", "event_type", "status", "connection", "remote_object",
                    "result", "attempts")  # fmt: skip
    # No date_hierarchy: its year/month links need a DISTINCT over every row.
    list_filter = (
        "status",
        "source",
        EventTypeFilter,
        ("connection", ConnectionFilter),
        "received_at",
    )
    search_fields = ("=webhook_id", "=remote_id", "=routing_key")
    list_select_related = ("connection",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    csv_fields = ("id", "received_at", "source", "connection__name", "event_type", "webhook_id",
                  "object_type", "remote_id", "status", "result", "error", "attempts",
                  "processed_at")  # fmt: skip
    actions = ("reprocess_events",)
    exclude = ("body",)

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [f.name for f in InboundEvent._meta.fields if f.name != "body"] + ["payload"]

    @admin.display(description="Payload")
    def payload(self, obj: InboundEvent) -> str:
        try:
            pretty = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = obj.body
        return format_html('<pre class="payload-wrap">{}</pre>', pretty)

    @admin.display(description="remote object", ordering="remote_id")
    def remote_object(self, event: InboundEvent) -> str:
        return format_html('{}<br><span class="muted">{}</span>', event.object_type or "-",
                           event.remote_id)  # fmt: skip

    @admin.action(description="Reprocess (route again if unmatched, then apply)")
    def reprocess_events(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = reprocess(queryset)
        self.message_user(request, f"Re-queued {count} event(s).", messages.SUCCESS)
