"""Automations in the admin: the editor (trigger, conditions, ordered actions), "create from
template", a test page per automation (dry run on a record or a pasted event, or send a test
event for real), and the "Automation runs" list with each step's inputs, requests and outputs.
Forms: admin_forms.py. Imported by sync/admin.py."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from portal.access import workspace_access
from portal.admin_base import AuditedModelAdmin, operator
from portal.admin_scoping import WorkspaceScopedAdmin
from portal.audit import record_change
from portal.models import AuditAction, Workspace
from sync.automations.admin_forms import (
    ActionForm,
    ActionFormSet,
    AutomationForm,
    FromTemplateForm,
    TestForm,
)
from sync.automations.presets import TEMPLATES
from sync.automations.runner import replay, run_now
from sync.models import (
    Automation,
    AutomationAction,
    AutomationRun,
    AutomationStep,
    Connection,
    Mode,
    StepStatus,
)


def pretty(value) -> str:
    return format_html("<pre class='json'>{}</pre>", json.dumps(value, indent=2, default=str))


class ActionInline(WorkspaceScopedAdmin, admin.TabularInline):
    workspace_path = "automation__workspace"
    parent_workspace_path = "workspace"  # the automation's
    model = AutomationAction
    form = ActionForm
    formset = ActionFormSet
    extra = 0
    ordering = ("position", "id")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "connection":
            kwargs["queryset"] = Connection.objects.live().defer("credentials")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Automation)
class AutomationAdmin(WorkspaceScopedAdmin, AuditedModelAdmin):
    form = AutomationForm
    inlines = [ActionInline]
    list_display = ("name", "workspace", "trigger", "event_type", "object_type", "mode",
                    "test_link")  # fmt: skip
    list_filter = ("mode", "trigger", "workspace")
    search_fields = ("name", "event_type")
    readonly_fields = ("preset", "test_link")
    actions = ["enable", "disable", "dry_run_mode"]
    fieldsets = (
        (None, {"fields": ("workspace", "name", "description", "mode", "preset", "test_link")}),
        ("Trigger", {"fields": ("trigger", "object_type", "trigger_connection", "trigger_field",
                                "trigger_value", "event_type")}),
        ("Conditions", {"fields": ("conditions",)}),
    )  # fmt: skip

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "trigger_connection":
            kwargs["queryset"] = Connection.objects.live().defer("credentials")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="test")
    def test_link(self, obj: Automation) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:sync_automation_test", args=[obj.pk])
        return format_html('<a class="button" href="{}">Test / send test event</a>', url)

    def _set_mode(self, request, queryset: QuerySet, mode: str) -> None:
        changed = 0
        for automation in queryset.exclude(mode=mode):
            with transaction.atomic():
                Automation.objects.filter(pk=automation.pk).update(mode=mode)
                change = {"mode": [automation.mode, mode]}
                record_change(
                    actor=operator(request),
                    action=AuditAction.UPDATE,
                    instance=automation,
                    changes=change,
                )
            changed += 1
        self.message_user(request, f"{changed} automation(s) now: {Mode(mode).label}.")

    @admin.action(description="Enable")
    def enable(self, request, queryset):
        self._set_mode(request, queryset, Mode.ON)

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        self._set_mode(request, queryset, Mode.OFF)

    @admin.action(description="Dry run (record what it would do)")
    def dry_run_mode(self, request, queryset):
        self._set_mode(request, queryset, Mode.DRY_RUN)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("from-template/", wrap(self.from_template_view),
                 name="sync_automation_from_template"),
            path("<int:pk>/test/", wrap(self.test_view), name="sync_automation_test"),
            *super().get_urls(),
        ]  # fmt: skip

    def changelist_view(self, request, extra_context=None):
        extra = {"from_template_url": reverse("admin:sync_automation_from_template")}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def from_template_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = FromTemplateForm(request.POST or None)
        form.limit_to(workspace_access(request.user).changeable_rows(Workspace.objects.all(), "id"))
        if request.method == "POST" and form.is_valid():
            try:
                automation = form.create()
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Created “{automation}” (disabled): adjust, enable.")
                return HttpResponseRedirect(
                    reverse("admin:sync_automation_change", args=[automation.pk])
                )
        context = {**self.admin_site.each_context(request), "title": "Create from template",
                   "form": form, "opts": Automation._meta, "templates": TEMPLATES}  # fmt: skip
        return TemplateResponse(request, "admin/sync/automation_from_template.html", context)

    def test_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        automation = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, automation):
            raise PermissionDenied
        form = TestForm(request.POST or None, automation=automation)
        if request.method == "POST" and form.is_valid():
            run = form.start(request)
            if run.dry_run:
                run_now(run)
                messages.success(request, "Dry run finished: every step's request is below.")
            else:
                messages.success(request, "Test event sent: the worker runs its steps.")
            return HttpResponseRedirect(reverse("admin:sync_automationrun_change", args=[run.pk]))
        context = {**self.admin_site.each_context(request), "title": f"Test “{automation}”",
                   "form": form, "automation": automation, "opts": Automation._meta,
                   "actions_list": automation.actions.order_by("position", "id")}  # fmt: skip
        return TemplateResponse(request, "admin/sync/automation_test.html", context)


class StepInline(WorkspaceScopedAdmin, admin.StackedInline):
    workspace_path = "run__workspace"
    parent_workspace_path = "workspace"  # the run's
    model = AutomationStep
    extra = 0
    can_delete = False
    fields = ("position", "operation", "connection", "status", "attempts", "idempotency_key",
              "inputs_shown", "requests_shown", "output_shown", "last_error",
              "completed_at")  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="inputs")
    def inputs_shown(self, step: AutomationStep) -> str:
        return pretty(step.inputs)

    @admin.display(description="requests and answers")
    def requests_shown(self, step: AutomationStep) -> str:
        return pretty(step.calls)

    @admin.display(description="output")
    def output_shown(self, step: AutomationStep) -> str:
        return pretty(step.output)


@admin.register(AutomationRun)
class AutomationRunAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    list_display = ("created_at", "automation", "event_label", "status", "dry_run",
                    "object_type", "object_id")  # fmt: skip
    list_filter = ("status", "dry_run", "automation")
    list_select_related = ("automation",)
    search_fields = ("event_key", "event_label")
    inlines = [StepInline]
    readonly_fields = ("automation", "workspace", "event_key", "event_label", "object_type",
                       "object_id", "dry_run", "status", "steps_summary", "created_at",
                       "completed_at", "context_shown")  # fmt: skip
    exclude = ("context",)
    actions = ["replay_failed_steps"]

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("sync.change_automationrun")

    @admin.display(description="steps")
    def steps_summary(self, run: AutomationRun) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>"
            "<td><code>{}</code></td><td>{}</td></tr>",
            (
                (step.position, step.operation, step.connection.name, step.get_status_display(),
                 ", ".join(f"{c.get('method')} {c.get('path')}" for c in step.calls or []) or "-",
                 json.dumps(step.output, default=str)[:300] if step.output else "-",
                 format_html("<span class='error'>{}</span>", step.last_error)
                 if step.last_error else "")
                for step in run.steps.select_related("connection").order_by("position")
            ),
        )  # fmt: skip
        head = mark_safe(  # a constant: nothing from the run in it
            "<tr><th>#</th><th>operation</th><th>connection</th><th>status</th>"
            "<th>requests</th><th>output</th><th>error</th></tr>"
        )
        return format_html("<table id='run-steps'>{}{}</table>", head, rows)

    @admin.display(description="trigger data")
    def context_shown(self, run: AutomationRun) -> str:
        return pretty(run.context)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a record of what happened: read-only (replay is an action)

    @admin.action(description="Replay failed or dead steps", permissions=["replay"])
    def replay_failed_steps(self, request, queryset: QuerySet) -> None:
        steps = AutomationStep.objects.filter(
            run__in=queryset, status__in=[StepStatus.FAILED, StepStatus.DEAD]
        )
        messages.success(request, f"Re-queued {replay(steps)} step(s).")
