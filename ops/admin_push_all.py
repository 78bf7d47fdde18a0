"""The first sync in the admin: a page per connection to preview and start `push_all`, and the
runs' list. The queuing runs in a django-q2 task (ops.tasks.push_all); the dashboard follows it."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django_q.tasks import async_task

from ops.models import PushAllRun
from ops.push_all import OBJECT_TYPES, PushAllError, delivery, preview, start_run
from portal.admin_scoping import WorkspaceScopedAdmin
from sync.engine.broker import shared_broker
from sync.models import Connection

PUSH_ALL_TASK = "ops.tasks.push_all"


class PushAllForm(forms.Form):
    objects = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    since = forms.DateTimeField(
        required=False, help_text="Only records changed since (empty: all of them)."
    )

    def __init__(self, connection: Connection, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        sent = [t for t in OBJECT_TYPES if connection.sends(t)]
        self.fields["objects"].choices = [(t, f"{t}s") for t in sent]
        self.fields["objects"].initial = sent


def enqueue_push_all(run: PushAllRun) -> None:
    transaction.on_commit(
        lambda: async_task(
            PUSH_ALL_TASK,
            run.pk,
            task_name=f"push-all-{run.pk}",
            group="ops-push-all",
            broker=shared_broker(),
        )
    )


def push_all_view(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("sync.change_connection"):
        raise PermissionDenied
    connection = get_object_or_404(Connection.objects.live().defer("credentials"), pk=pk)
    form = PushAllForm(connection, request.POST or None)
    tally = None
    if request.method == "POST" and form.is_valid():
        objects = [t for t in OBJECT_TYPES if t in form.cleaned_data["objects"]]
        since = form.cleaned_data.get("since")
        if "preview" in request.POST:
            tally = preview(connection, objects, since)
        else:
            return _start(request, connection, objects, since)
    context = {
        **admin.site.each_context(request),
        "title": f"First sync of {connection.name}",
        "connection": connection,
        "form": form,
        "tally": tally,
        "runs": PushAllRun.objects.filter(connection=connection)[:5],
    }
    return TemplateResponse(request, "admin/ops/push_all.html", context)


def _start(request: HttpRequest, connection: Connection, objects, since) -> HttpResponse:
    try:
        run, resumed = start_run(
            connection, objects, since=since, started_by=request.user.get_username()
        )
    except PushAllError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(request.path)
    enqueue_push_all(run)
    verb = "Resumed" if resumed else "Started"
    messages.success(
        request,
        f"{verb} first sync #{run.pk} of {connection.name}: the worker queues the records and "
        "pushes them at the connection's rate limit. Follow it on the dashboard.",
    )
    return HttpResponseRedirect(reverse("dashboard"))


@admin.register(PushAllRun)
class PushAllRunAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    workspace_path = "connection__workspace"
    list_display = ("id", "connection", "status", "objects_requested", "queued", "delivered",
                    "filtered", "started_by", "started_at", "finished_at")  # fmt: skip
    list_filter = ("status",)
    list_select_related = ("connection",)

    @admin.display(description="delivered")
    def delivered(self, run: PushAllRun) -> str:
        counts = delivery(run)
        return f"{counts.get('done', 0) + counts.get('coalesced', 0)} of {run.queued}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
