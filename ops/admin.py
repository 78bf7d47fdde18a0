"""Operations in the admin: the first sync (push_all) and the go-live check of a connection,
alert channels and the alerts sent.

The connection admin gains an action and a page; it is re-registered as a subclass so that
sync's own admin module stays unaware of ops (ops depends on sync, never the reverse).
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from ops.admin_alerts import AlertChannelAdmin, AlertNoticeAdmin
from ops.admin_golive import go_live_view
from ops.admin_poll import ConnectionScheduleForm, poll_status_html, reschedule
from ops.admin_push_all import PushAllRunAdmin, push_all_view
from sync.admin import ConnectionAdmin
from sync.models import Connection

__all__ = ["AlertChannelAdmin", "AlertNoticeAdmin", "ConnectionOperationsAdmin", "PushAllRunAdmin"]


class ConnectionOperationsAdmin(ConnectionAdmin):
    form = ConnectionScheduleForm  # + the poll and reconcile intervals
    actions = (*ConnectionAdmin.actions, "first_sync", "go_live")
    readonly_fields = (*ConnectionAdmin.readonly_fields, "poll_status")

    @admin.display(description="Poll and reconcile")
    def poll_status(self, obj: Connection) -> str:
        return "-" if obj.pk is None else poll_status_html(obj)

    def save_model(self, request: HttpRequest, obj: Connection, form, change: bool) -> None:
        reschedule(obj, form.changed_data)
        super().save_model(request, obj, form, change)

    def get_urls(self):
        view = self.admin_site.admin_view
        extra = [
            path("<int:pk>/push-all/", view(push_all_view), name="ops_push_all"),
            path("<int:pk>/go-live/", view(go_live_view), name="ops_go_live"),
        ]
        return [*extra, *super().get_urls()]

    @admin.action(description="First sync: send every record to this connection")
    def first_sync(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Choose one connection for a first sync.", messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:ops_push_all", args=[queryset.first().pk]))

    @admin.action(description="Go-live check: test records pushed, read back, compared, deleted")
    def go_live(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Choose one connection to check.", messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:ops_go_live", args=[queryset.first().pk]))

    def response_add(self, request: HttpRequest, obj: Connection, post_url_continue=None):
        # Offered, not forced: a new connection only receives changes made from now on.
        url = reverse("admin:ops_push_all", args=[obj.pk])
        self.message_user(
            request,
            format_html(
                "The connection receives changes from now on. To send the records already in "
                'the portal, <a href="{}" id="offer-first-sync">run its first sync</a>.',
                url,
            ),
            messages.INFO,
        )
        return super().response_add(request, obj, post_url_continue)


admin.site.unregister(Connection)
admin.site.register(Connection, ConnectionOperationsAdmin)
