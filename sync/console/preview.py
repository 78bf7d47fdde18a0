""" "Test against this record": the payload a connection would be sent for one mirror record,
with the field mappings used and each rule's verdict. Reads only; nothing is sent or queued."""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from contacts.models import MirrorModel
from sync.mapping.mapper import mapping_plan, to_remote
from sync.mapping.rules import RuleError, matches, record_values
from sync.mapping.transforms import MappingError
from sync.models import Connection, Rule
from sync.objects import ObjectType, mirror_model


class PreviewForm(forms.Form):
    object_type = forms.ChoiceField(choices=ObjectType.choices, initial=ObjectType.CONTACT)
    record = forms.CharField(
        max_length=64, help_text="The record's public id (ct_…) or its number in the portal."
    )

    def __init__(self, *args, connection: Connection, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection = connection

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        model = mirror_model(cleaned["object_type"])
        key = cleaned["record"].strip()
        lookup = Q(public_id=key) | Q(pk=int(key)) if key.isdigit() else Q(public_id=key)
        found = model.objects.filter(lookup, workspace_id=self.connection.workspace_id).first()
        if found is None:
            raise forms.ValidationError(
                f"No {cleaned['object_type']} “{key}” in the workspace of {self.connection}."
            )
        cleaned["obj"] = found
        return cleaned


def rule_verdicts(connection: Connection, object_type: str, obj: MirrorModel) -> list[dict]:
    values = record_values(obj)
    verdicts = []
    for rule in connection.rules.filter(object_type=object_type):
        try:
            passed, error = matches(rule.conditions, values), ""
        except RuleError as exc:
            passed, error = False, str(exc)
        if not rule.active:
            outcome = "inactive (ignored)"
        elif rule.kind == Rule.Kind.FILTER:
            outcome = "passes" if passed else "excludes the record"
        else:
            outcome = "conditions true" if passed else "conditions false"
        verdicts.append({"rule": rule, "outcome": outcome, "error": error, "passed": passed})
    return verdicts


def build_preview(connection: Connection, object_type: str, obj: MirrorModel) -> dict[str, Any]:
    try:
        payload, error = to_remote(obj, connection), ""
    except MappingError as exc:
        payload, error = None, str(exc)
    verdicts = rule_verdicts(connection, object_type, obj)
    excluded = any(v["rule"].active and v["rule"].kind == Rule.Kind.FILTER and not v["passed"]
                   for v in verdicts)  # fmt: skip
    return {
        "obj": obj,
        "payload": json.dumps(payload, indent=2, ensure_ascii=False, default=str),
        "mapping_error": error,
        "plan": [p for p in mapping_plan(connection, object_type) if p.spec.outbound or not p.used],
        "verdicts": verdicts,
        "would_send": connection.sends(object_type) and connection.active and not excluded,
    }


def preview_view(request: HttpRequest, pk: int) -> HttpResponse:
    connection_admin = admin.site.get_model_admin(Connection)
    if not connection_admin.has_view_permission(request):
        raise PermissionDenied
    # Scoped like the connection's admin: another workspace's connection is a 404.
    connection = get_object_or_404(connection_admin.get_queryset(request), pk=pk)
    form = PreviewForm(request.GET or None, connection=connection)
    result = None
    if form.is_bound and form.is_valid():
        result = build_preview(connection, form.cleaned_data["object_type"],
                               form.cleaned_data["obj"])  # fmt: skip
    context = {**admin.site.each_context(request), "title": f"Test {connection} against a record",
               "connection": connection, "form": form, "result": result,
               "opts": Connection._meta}  # fmt: skip
    return TemplateResponse(request, "admin/sync/preview.html", context)
