"""Automations in the admin: the editor (trigger, conditions, ordered actions), "create from
template", a test page per automation (dry run on a record or a pasted event, or send a test
event for real), and the "Automation runs" list with each step's inputs, requests and outputs.
Imported by sync/admin.py."""

import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from portal.actors import Actor
from portal.admin import AuditedModelAdmin
from portal.models import Workspace
from sync.automations.actions import ActionError, action_spec
from sync.automations.context import event_context, record_context
from sync.automations.inbound import contact_of
from sync.automations.presets import BY_KEY, TEMPLATES, create_from_template
from sync.automations.runner import replay, run_now
from sync.automations.templating import TemplateError, check
from sync.automations.triggers import start_run
from sync.models import (
    Automation,
    AutomationAction,
    AutomationRun,
    AutomationStep,
    Connection,
    Mode,
    StepStatus,
    Trigger,
)
from sync.objects import mirror_model
from sync.rules import RuleError, validate_conditions

RECORD_TRIGGERS_WITHOUT_TYPE = (Trigger.TAG_ADDED, Trigger.TAG_REMOVED, Trigger.TASK_COMPLETED,
                                Trigger.APPOINTMENT_BOOKED, Trigger.APPOINTMENT_STATUS)  # fmt: skip


def pretty(value) -> str:
    return format_html("<pre class='json'>{}</pre>", json.dumps(value, indent=2, default=str))


class AutomationForm(forms.ModelForm):
    class Meta:
        model = Automation
        fields = ("workspace", "name", "description", "mode", "trigger", "object_type",
                  "trigger_connection", "trigger_field", "trigger_value", "event_type",
                  "conditions")  # fmt: skip

    def clean(self):
        data = super().clean()
        trigger = data.get("trigger")
        try:
            validate_conditions(data.get("conditions") or {})
        except RuleError as exc:
            self.add_error("conditions", str(exc))
        if trigger == Trigger.EVENT_RECEIVED and not data.get("event_type"):
            self.add_error("event_type", "An event trigger needs the event type.")
        if trigger == Trigger.FIELD_CHANGED and not data.get("trigger_field"):
            self.add_error("trigger_field", "Name the field that must change.")
        if (
            trigger
            and trigger != Trigger.EVENT_RECEIVED
            and trigger not in RECORD_TRIGGERS_WITHOUT_TYPE
            and not data.get("object_type")
        ):
            self.add_error("object_type", "Record triggers need the object type.")
        source, workspace = data.get("trigger_connection"), data.get("workspace")
        if source and workspace and source.workspace_id != workspace.pk:
            self.add_error("trigger_connection", "This connection is another workspace's.")
        return data


def operation_choices() -> list:
    """The catalog's automation actions, grouped by provider (REST: what presets configure)."""
    from sync.catalog import catalog

    groups = []
    for entry in catalog()["providers"]:
        names = [a["name"] for a in entry.get("automation_actions", []) if "<" not in a["name"]]
        if entry["provider"] == "rest":
            names += [a["name"] for a in entry["actions"]]
        if names:
            groups.append((entry["label"], [(name, name) for name in sorted(set(names))]))
    return groups


class ActionForm(forms.ModelForm):
    class Meta:
        model = AutomationAction
        fields = ("position", "connection", "operation", "inputs")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = operation_choices()
        current = self.initial.get("operation")
        if current and not any(current == n for _, group in choices for n, _ in group):
            choices.append(("Current", [(current, current)]))
        self.fields["operation"].widget = forms.Select(choices=[("", "---------"), *choices])

    def clean(self):
        data = super().clean()
        connection = data.get("connection")
        if connection and data.get("operation"):
            try:
                action_spec(connection.provider, data["operation"])
            except ActionError as exc:
                self.add_error("operation", str(exc))
        try:
            check(data.get("inputs") or {})
        except TemplateError as exc:
            self.add_error("inputs", str(exc))
        return data


class ActionInline(admin.TabularInline):
    model = AutomationAction
    form = ActionForm
    extra = 0
    ordering = ("position", "id")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "connection":
            kwargs["queryset"] = Connection.objects.live().defer("credentials")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Automation)
class AutomationAdmin(AuditedModelAdmin):
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

    def save_formset(self, request, form, formset, change):
        for action_form in formset.forms:
            connection = action_form.cleaned_data.get("connection")
            if connection and connection.workspace_id != form.instance.workspace_id:
                raise ValidationError("An action's connection belongs to another workspace.")
        super().save_formset(request, form, formset, change)

    @admin.display(description="test")
    def test_link(self, obj: Automation) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:sync_automation_test", args=[obj.pk])
        return format_html('<a class="button" href="{}">Test / send test event</a>', url)

    def _set_mode(self, request, queryset: QuerySet, mode: str) -> None:
        count = 0
        for automation in queryset:
            form = type("F", (), {"changed_data": ["mode"]})
            automation.mode = mode
            self.save_model(request, automation, form, change=True)
            count += 1
        self.message_user(request, f"{count} automation(s): {Mode(mode).label}.")

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
        automation = get_object_or_404(Automation, pk=pk)
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


class FromTemplateForm(forms.Form):
    template = forms.ChoiceField(choices=[(t.key, t.name) for t in TEMPLATES])
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.all())
    crm = forms.ModelChoiceField(
        queryset=Connection.objects.live().filter(provider="highlevel").defer("credentials"),
        required=False, label="CRM connection",
    )  # fmt: skip
    email = forms.ModelChoiceField(
        queryset=Connection.objects.live().filter(provider="email_api").defer("credentials"),
        required=False, label="E-mail API connection",
    )  # fmt: skip
    source = forms.ModelChoiceField(
        queryset=Connection.objects.live().defer("credentials"), required=False,
        label="Source connection (signage app, client-management app, store)",
    )  # fmt: skip

    def create(self) -> Automation:
        data = self.cleaned_data
        roles = BY_KEY[data["template"]].roles
        connections = {role: data[role] for role in roles if data.get(role)}
        return create_from_template(
            data["template"], workspace=data["workspace"], connections=connections
        )


class TestForm(forms.Form):
    record = forms.CharField(
        required=False, help_text="A record's public id (e.g. ct_…): the trigger's record."
    )
    event = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text='Or paste an event: {"type": "purchase.created", "data": {…}}',
    )
    dry_run = forms.BooleanField(
        required=False, initial=True, help_text="Unticked: a real test event (sends requests)."
    )

    def __init__(self, *args, automation: Automation, **kwargs):
        super().__init__(*args, **kwargs)
        self.automation = automation

    def clean(self):
        data = super().clean()
        if not data.get("record") and not data.get("event"):
            raise ValidationError("Pick a record or paste an event.")
        if data.get("event"):
            try:
                data["payload"] = json.loads(data["event"])
            except ValueError as exc:
                raise ValidationError(f"The event is not JSON: {exc}") from exc
            if not isinstance(data["payload"], dict):
                raise ValidationError("The event must be a JSON object.")
        else:
            data["obj"] = self._record(data["record"].strip())
        return data

    def _record(self, public_id: str):
        object_type = self.automation.object_type or "contact"
        obj = (
            mirror_model(object_type)
            .objects.filter(workspace_id=self.automation.workspace_id, public_id=public_id)
            .first()
        )
        if obj is None:
            raise ValidationError(f"No {object_type} {public_id!r} in this workspace.")
        return obj

    def start(self, request) -> AutomationRun:
        data, automation = self.cleaned_data, self.automation
        key = f"test:{uuid.uuid4().hex}"
        if data.get("obj") is not None:
            obj = data["obj"]
            actor = Actor.operator(request.user, source="admin-test")
            context = record_context(obj, "update", {}, actor)
            label = f"test on {obj.public_id}"
        else:
            payload = data["payload"]
            obj = contact_of(automation.workspace_id, payload)
            event_type = str(payload.get("type") or automation.event_type)
            context = event_context(event_type, payload, obj, test=True)
            label = f"test event {event_type}"
        return start_run(automation, key, label, context, obj=obj, dry_run=data["dry_run"])


class StepInline(admin.StackedInline):
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
class AutomationRunAdmin(admin.ModelAdmin):
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
