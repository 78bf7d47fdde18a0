"""The go-live check in the admin: a page per connection that runs it and shows each step."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from ops.golive import CannotCleanUp, can_clean_up, can_read, go_live_check
from portal.admin_base import operator
from sync.models import Connection


def go_live_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("sync.change_connection"):
        raise PermissionDenied
    connection = get_object_or_404(Connection.objects.live(), pk=pk)
    context = {
        **admin.site.each_context(request),
        "title": f"Go-live check of {connection.name}",
        "connection": connection,
        "can_clean_up": can_clean_up(connection),
        "can_read": can_read(connection),
        "report": None,
        "refusal": "",
    }
    if request.method == "POST":
        try:
            context["report"] = go_live_check(
                connection, actor=operator(request), confirmed=request.POST.get("confirm") == "yes"
            )
        except CannotCleanUp as exc:
            context["refusal"] = str(exc)
    return TemplateResponse(request, "admin/ops/go_live.html", context)
