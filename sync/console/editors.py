"""Editors for rules and mapping arguments in the admin, instead of raw JSON.

Rule conditions: the stored shape (sync/mapping/rules.py) is a group {"op", "conditions": [...]}
whose items are conditions {"field", "operator", "value"} or groups. The editor shows a group as
"match ALL/ANY of" these conditions, plus sub-groups of conditions — two levels, which covers
"A and (B or C)". A rule nested deeper keeps the raw JSON box, so nothing is lost.
Values are typed as text; JSON is read where it parses (["vip", "gold"], 5, true), so list
operators (IN, ANY_IN, BETWEEN …) take a list.
"""

import json
from typing import Any

from django import forms
from django_jsonform.forms.fields import JSONFormField

from sync.mapping.rules import OPERATORS, RuleError, validate_conditions

MATCH = [
    {"title": "ALL of these (AND)", "value": "AND"},
    {"title": "ANY of these (OR)", "value": "OR"},
]
VALUE_HELP = (
    'Text, a number, or a JSON list: ["vip", "gold"]; BETWEEN takes [low, high]; '
    "LIKE takes % and _."
)
CONDITION = {
    "type": "object",
    "title": "Condition",
    "keys": {
        "field": {"type": "string", "title": "Field",
                  "helpText": 'A record field ("email", "tags", "city") or "custom_fields.<key>".'},
        "operator": {"type": "string", "title": "Operator", "choices": list(OPERATORS),
                     "default": "EQUAL"},
        "value": {"type": "string", "title": "Value", "helpText": VALUE_HELP},
    },
}  # fmt: skip
CONDITIONS = {"type": "array", "title": "Conditions", "items": CONDITION}
MATCH_FIELD = {"type": "string", "title": "Match", "choices": MATCH, "default": "AND"}
RULE_SCHEMA = {
    "type": "object",
    "keys": {
        "match": MATCH_FIELD,
        "conditions": CONDITIONS,
        "groups": {
            "type": "array",
            "title": "Groups (each one condition of the rule)",
            "items": {"type": "object", "title": "Group",
                      "keys": {"match": MATCH_FIELD, "conditions": CONDITIONS}},
        },
    },
}  # fmt: skip
RULE_HELP = (
    'Example: match ALL of [tags ANY_IN ["vip"]] and a group matching ANY of [city EQUAL Paris], '
    "[city EQUAL Lyon] — VIPs in Paris or Lyon. Operators: " + ", ".join(OPERATORS) + "."
)


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _value_from_text(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _condition_to_editor(node: dict) -> dict:
    return {"field": node.get("field", ""), "operator": node.get("operator", "EQUAL"),
            "value": _value_text(node.get("value", ""))}  # fmt: skip


def _is_group(node: Any) -> bool:
    return isinstance(node, dict) and ("conditions" in node or not node)


def to_editor(conditions: Any) -> dict | None:
    """The editor's shape of stored conditions (None if they nest deeper than it shows)."""
    root = conditions if _is_group(conditions) else {"op": "AND", "conditions": [conditions]}
    editor = {"match": str(root.get("op", "AND")).upper(), "conditions": [], "groups": []}
    for child in root.get("conditions", []):
        if not _is_group(child):
            editor["conditions"].append(_condition_to_editor(child))
            continue
        if any(_is_group(grandchild) for grandchild in child.get("conditions", [])):
            return None
        editor["groups"].append({"match": str(child.get("op", "AND")).upper(),
                                 "conditions": [_condition_to_editor(c)
                                                for c in child.get("conditions", [])]})  # fmt: skip
    return editor


def from_editor(editor: dict) -> dict:
    def conditions(items: list) -> list[dict]:
        return [{"field": (c.get("field") or "").strip(), "operator": c.get("operator"),
                 "value": _value_from_text(c.get("value", ""))} for c in items or []]  # fmt: skip

    groups = [{"op": g.get("match") or "AND", "conditions": conditions(g.get("conditions"))}
              for g in editor.get("groups") or []]  # fmt: skip
    return {"op": editor.get("match") or "AND",
            "conditions": conditions(editor.get("conditions")) + groups}  # fmt: skip


class ConditionsField(JSONFormField):
    """The rule editor; stores the canonical shape that sync/mapping/rules.py evaluates."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(schema=RULE_SCHEMA, help_text=RULE_HELP, **kwargs)

    def validate(self, value: Any) -> None:
        # Not the schema check: validate_conditions (in clean) says what is wrong in words.
        forms.JSONField.validate(self, value)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return value  # a bound form re-renders what was typed
        return super().prepare_value(to_editor(value or {}))

    def clean(self, value: Any) -> dict:
        editor = super().clean(value)
        if not isinstance(editor, dict):
            raise forms.ValidationError("Give the rule's conditions.")
        conditions = from_editor(editor)
        try:
            validate_conditions(conditions)
        except RuleError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return conditions


VALUE_MAP_SCHEMA = {"type": "object", "title": "Value map", "keys": {},
                    "additionalProperties": {"type": "string"}}  # fmt: skip
ARGUMENT_HELP = {
    "date": "A strftime format, e.g. %Y-%m-%d or %d/%m/%Y; empty means ISO 8601.",
    "constant": "The value always sent, e.g. portal.",
    "value_map": "Mirror value → remote value, e.g. female → F (read back the other way).",
}


def check_argument(transform: str, text: str, value_map: dict) -> Any:
    """The FieldMapping.argument for a transform (ValidationError when it does not fit)."""
    if transform == "value_map":
        if not value_map:
            raise forms.ValidationError("A value map needs at least one row, e.g. female → F.")
        return value_map
    if transform == "constant":
        if not text:
            raise forms.ValidationError("A constant needs the value to send.")
        return text
    if transform == "date":
        if text and "%" not in text:
            raise forms.ValidationError("A date format uses strftime codes, e.g. %Y-%m-%d.")
        return text or None
    if text or value_map:
        raise forms.ValidationError("This transform takes no argument: leave it empty.")
    return None
