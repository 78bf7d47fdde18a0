"""The automations admin's forms: the editor's validation (trigger, conditions, actions
against the catalog and the templating), "create from template" and the test page."""

import json
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from portal.actors import Actor
from portal.models import Workspace
from sync.automations.actions import action_spec
from sync.automations.actions.base import ActionError
from sync.automations.context import event_context, record_context
from sync.automations.inbound import contact_of
from sync.automations.presets import BY_KEY, TEMPLATES, create_from_template
from sync.automations.templating import TemplateError, check
from sync.automations.triggers import start_run
from sync.mapping.rules import RuleError, validate_conditions
from sync.models import Automation, AutomationAction, AutomationRun, Connection, Trigger
from sync.objects import mirror_model

RECORD_TRIGGERS_WITHOUT_TYPE = (Trigger.TAG_ADDED, Trigger.TAG_REMOVED, Trigger.TASK_COMPLETED,
                                Trigger.APPOINTMENT_BOOKED, Trigger.APPOINTMENT_STATUS)  # fmt: skip


class OptionalJSONField(forms.JSONField):
    """A one-line JSON value ("showed", "vip", 3) where empty means "any", not the text null."""

    widget = forms.TextInput

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class AutomationForm(forms.ModelForm):
    trigger_value = OptionalJSONField(
        required=False,
        help_text=Automation._meta.get_field("trigger_value").help_text
        + ' JSON: "showed", "vip", 3.',
    )

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


class ActionFormSet(forms.BaseInlineFormSet):
    """An automation acts only through its own workspace's connections."""

    def clean(self) -> None:
        super().clean()
        workspace_id = self.instance.workspace_id
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            connection = data.get("connection")
            if connection and not data.get("DELETE") and connection.workspace_id != workspace_id:
                form.add_error("connection", "This connection is another workspace's.")


class FromTemplateForm(forms.Form):
    template = forms.ChoiceField(choices=[(t.key, t.name) for t in TEMPLATES])
    workspace = forms.ModelChoiceField(queryset=Workspace.objects.all())
    crm = forms.ModelChoiceField(
        queryset=Connection.objects.live().crm().defer("credentials"),
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

    def limit_to(self, workspaces: QuerySet) -> None:
        """Offer only the operator's changeable workspaces and their connections."""
        self.fields["workspace"].queryset = workspaces
        for name in ("crm", "email", "source"):
            field = self.fields[name]
            field.queryset = field.queryset.filter(workspace__in=workspaces)

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
