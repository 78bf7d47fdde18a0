"""Console pages served under the sync ModelAdmins (admin_view-wrapped, staff only):
a record's timeline and replay of failed/dead rows by connection and time range."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from portal.access import workspace_access
from sync.console.timeline import timeline
from sync.engine.push import replay
from sync.models import REPLAYABLE, ChangeStatus, Connection, OutboundChange
from sync.objects import MODEL_BY_TYPE

MODEL_BY_NAME = {model._meta.model_name: model for model in MODEL_BY_TYPE.values()}


def timeline_view(request: HttpRequest, model_name: str, pk: int) -> HttpResponse:
    model = MODEL_BY_NAME.get(model_name)
    if model is None:
        raise Http404(f"No timeline for {model_name!r}.")
    opts = model._meta
    model_admin = admin.site.get_model_admin(model)
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    # Scoped like the record's admin: another workspace's record is a 404.
    obj = get_object_or_404(model_admin.get_queryset(request), pk=pk)
    entries, routes = timeline(obj)
    context = {
        **admin.site.each_context(request),
        "title": f"Timeline of {opts.verbose_name} {obj}",
        "obj": obj,
        "opts": opts,
        "object_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk]),
        "entries": entries,
        "routes": routes,
    }
    return TemplateResponse(request, "admin/sync/timeline.html", context)


class ReplayForm(forms.Form):
    connection = forms.ModelChoiceField(
        queryset=Connection.objects.none(), required=False, empty_label="All connections"
    )
    status = forms.MultipleChoiceField(
        choices=[(s, ChangeStatus(s).label) for s in REPLAYABLE],
        initial=list(REPLAYABLE),
        widget=forms.CheckboxSelectMultiple,
    )
    since = forms.DateTimeField(help_text="Rows created at or after (YYYY-MM-DD HH:MM).")
    until = forms.DateTimeField(required=False, help_text="Rows created before (empty: now).")

    def __init__(self, *args, changeable: QuerySet, **kwargs):
        super().__init__(*args, **kwargs)
        # Only rows of connections the operator may change are offered and replayed.
        self.changeable = changeable
        self.fields["connection"].queryset = changeable.live().defer("credentials")

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until <= since:
            raise forms.ValidationError("“until” must be after “since”.")
        return cleaned

    def rows(self):
        data = self.cleaned_data
        rows = OutboundChange.objects.filter(status__in=data["status"],
                                             created_at__gte=data["since"],
                                             connection__in=self.changeable)  # fmt: skip
        if data.get("until"):
            rows = rows.filter(created_at__lt=data["until"])
        if data.get("connection"):
            rows = rows.filter(connection=data["connection"])
        return rows


def replay_view(request: HttpRequest) -> HttpResponse:
    # The outbox admin is read-only (no Save); replaying is an operator's action on it.
    access = workspace_access(request.user)
    if not (request.user.has_perm("sync.change_outboundchange") and access.changes_anything):
        raise PermissionDenied
    changeable = access.changeable_rows(Connection.objects.all(), "workspace")
    form = ReplayForm(request.POST or None, changeable=changeable)
    if request.method == "POST" and form.is_valid():
        count = replay(form.rows())
        messages.success(request, f"Re-queued {count} row(s).")
        return HttpResponseRedirect(reverse("admin:sync_outboundchange_changelist"))
    context = {**admin.site.each_context(request), "title": "Replay failed deliveries",
               "form": form, "opts": OutboundChange._meta}  # fmt: skip
    return TemplateResponse(request, "admin/sync/replay.html", context)
