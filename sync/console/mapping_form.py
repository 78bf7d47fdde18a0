"""The field mapping form: the CRM's custom fields offered by name, and the remote path rules.

A row adds to or overrides the connector's defaults field by field (sync/mapping/mapper.py); the CRM
takes custom fields only as a list of {id, field_value}, so a custom field is chosen from the
location's list (`GET /locations/{locationId}/customFields`, cached) and stored as
`customFields#<id>`; a dotted `customFields.<x>` path, which the CRM refuses, is a form error.
"""

from typing import Any

from django import forms

from contacts.editors import OptionalEditorField
from sync.connectors import connector_for
from sync.console.editors import ARGUMENT_HELP, VALUE_MAP_SCHEMA, check_argument
from sync.mapping.mapper import CUSTOM_PREFIX, REMOTE_CUSTOM_MARK
from sync.models import Connection, Direction, FieldMapping
from sync.transport.http import RemoteError

CUSTOM_LIST = "customFields"
CUSTOM_PATH_ERROR = (
    "The CRM takes custom fields as a list: pick the field under “CRM custom field” "
    "(or write customFields#<field id>)."
)


def crm_custom_fields(connection: Connection | None) -> tuple[list[dict[str, Any]], str]:
    """(the location's custom fields, why they could not be listed)."""
    if connection is None:
        return [], "Choose the connection first (then save and continue) to pick one by name."
    if not connection.is_crm:
        return [], "Only CRM connections have custom fields to pick."
    try:
        return connector_for(connection).custom_fields(), ""
    except RemoteError as exc:
        return [], f"The CRM's custom fields could not be listed: {exc.message}"


class FieldMappingForm(forms.ModelForm):
    crm_custom_field = forms.ChoiceField(
        label="CRM custom field",
        required=False,
        help_text="Pick one of the location's custom fields by name: the remote path becomes "
        "customFields#(its id) and the value is sent as {id, field_value} in customFields.",
    )

    argument_text = forms.CharField(
        label="Argument", required=False,
        help_text=f"Date: {ARGUMENT_HELP['date']} Constant: {ARGUMENT_HELP['constant']}",
    )  # fmt: skip
    value_map = OptionalEditorField(schema=VALUE_MAP_SCHEMA, label="Value map",
                                    help_text=ARGUMENT_HELP["value_map"])  # fmt: skip

    class Media:
        js = ("sync/mapping_form.js",)

    class Meta:
        model = FieldMapping
        fields = ("connection", "object_type", "crm_custom_field", "mirror_field", "remote_path",
                  "direction", "transform", "argument_text", "value_map", "position")  # fmt: skip
        help_texts = {
            "mirror_field": 'A mirror field ("city"), several for the name transform '
            '("first_name,last_name"), or a custom field: "custom_fields.loyalty_tier".',
            "remote_path": 'A dotted path in the remote payload ("address.city"); a row for a '
            "path or mirror field the provider maps already overrides that default.",
            "direction": '"Off" disables the provider\'s default for this field.',
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "remote_path" not in self.fields:
            return  # a read-only view (a viewer): nothing to edit, nothing to offer
        self.fields["remote_path"].required = False
        argument = self.instance.argument
        if isinstance(argument, dict):
            self.initial.setdefault("value_map", argument)
        elif argument is not None:
            self.initial.setdefault("argument_text", str(argument))
        self.custom_fields, problem = crm_custom_fields(self._connection())
        choices = [(f["id"], f"{f.get('name') or f['id']} ({f.get('fieldKey', '')})")
                   for f in self.custom_fields]  # fmt: skip
        field = self.fields["crm_custom_field"]
        field.choices = [("", "— not a CRM custom field —"), *choices]
        if problem:
            field.help_text = problem
        if self.instance.remote_path.startswith(CUSTOM_LIST + REMOTE_CUSTOM_MARK):
            field.initial = self.instance.remote_path.split(REMOTE_CUSTOM_MARK, 1)[1]

    def _connection(self) -> Connection | None:
        if self.instance.connection_id:
            return self.instance.connection
        key = self.data.get(self.add_prefix("connection")) or self.initial.get("connection")
        key = str(getattr(key, "pk", key) or "")
        return Connection.objects.filter(pk=key).first() if key.isdigit() else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            self.instance.argument = check_argument(
                cleaned.get("transform") or "", cleaned.get("argument_text") or "",
                cleaned.get("value_map") or {},
            )  # fmt: skip
        except forms.ValidationError as exc:
            field = "value_map" if cleaned.get("transform") == "value_map" else "argument_text"
            self.add_error(field, exc)
        chosen = cleaned.get("crm_custom_field")
        if chosen:
            self._use_custom_field(cleaned, chosen)
        path = cleaned.get("remote_path") or ""
        if path.startswith(CUSTOM_LIST + ".") and self._is_crm(cleaned):
            self.add_error("remote_path", CUSTOM_PATH_ERROR)
        if not path and cleaned.get("direction") != Direction.OFF:
            self.add_error("remote_path", "Give the remote path (or pick a CRM custom field).")
        return cleaned

    def _is_crm(self, cleaned: dict[str, Any]) -> bool:
        connection = cleaned.get("connection")
        return connection is not None and connection.is_crm

    def _use_custom_field(self, cleaned: dict[str, Any], field_id: str) -> None:
        cleaned["remote_path"] = f"{CUSTOM_LIST}{REMOTE_CUSTOM_MARK}{field_id}"
        if not cleaned.get("mirror_field"):
            found = next(f for f in self.custom_fields if f["id"] == field_id)
            key = (found.get("fieldKey") or found["id"]).rsplit(".", 1)[-1]
            cleaned["mirror_field"] = CUSTOM_PREFIX + key
