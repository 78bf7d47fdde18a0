"""Input and output shapes of the partner API.

Input serializers only validate and normalise; the views hand `validated_data` to one service.
Objects are addressed by their public id (`ct_…`), never by the database id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.api.rows import model_row_converter, row_converter
from contacts.models import Appointment, Contact, CrmUser, MirrorModel, Note, Task
from contacts.normalize import normalize_email, normalize_phone
from contacts.services import writable_fields
from contacts.sync_state import sync_states_for

MAX_BULK_ITEMS = 1000


class PublicIdField(serializers.SlugRelatedField):
    """A related object by public id, looked up among live objects of the target workspace."""

    def __init__(self, **kwargs) -> None:
        kwargs["slug_field"] = "public_id"
        super().__init__(**kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        workspace = self.context.get("workspace")
        return queryset.live().filter(workspace=workspace) if workspace else queryset.none()

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data == "":  # DRF would read "" as null; the schema says a public id or null
            self.fail("invalid")
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> MirrorModel:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string only (DRF would turn `0` into "0"), no longer than `max_length` as sent
    (DRF would measure it after trimming blanks): what the schema's maxLength says."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class _NormalisedCharField(StrictCharField):
    normalise = staticmethod(lambda value: value)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            return self.normalise(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class EmailField(_NormalisedCharField):
    """Trimmed, domain lower-cased and IDNA-encoded (contacts.normalize)."""

    normalise = staticmethod(normalize_email)


class PhoneField(_NormalisedCharField):
    """Parsed to E.164 (contacts.normalize)."""

    normalise = staticmethod(normalize_phone)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class JSONObjectField(serializers.DictField):
    """A free-form object; NUL characters are refused (PostgreSQL cannot store them)."""

    def to_internal_value(self, data: Any) -> dict:
        value = super().to_internal_value(data)
        if _has_nul(value):
            raise serializers.ValidationError("Null characters are not allowed.")
        return value


class StrictBooleanField(serializers.BooleanField):
    """JSON `true` or `false` only: "yes", 1 or "on" are 400, not silently a boolean."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictInputSerializer(serializers.ModelSerializer):
    """Rejects fields it does not know, instead of silently ignoring them."""

    serializer_related_field = PublicIdField
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.BooleanField: StrictBooleanField,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }

    class Meta:
        validators: list = []

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping):
            known = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(name) for name in set(data) - known)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

    def full_state(self) -> dict[str, Any]:
        """For PUT: every writable field, defaults for those left out (a full replacement)."""
        model = self.Meta.model
        fields = writable_fields(model)
        defaults = {
            name: None if fields[name].is_relation else fields[name].get_default()
            for name in self.fields
            if name in fields
        }
        return {**defaults, **self.validated_data}


def _input_meta(model: type[MirrorModel], exclude: tuple[str, ...] = ()) -> type:
    names = [name for name in writable_fields(model) if name not in exclude]
    return type("Meta", (), {"model": model, "fields": names, "validators": []})


class UserInput(StrictInputSerializer):
    email = EmailField(max_length=254)
    phone = PhoneField(required=False, allow_blank=True, max_length=40)
    permissions = JSONObjectField(required=False)
    location_ids = serializers.ListField(child=StrictCharField(max_length=64), required=False)
    Meta = _input_meta(CrmUser)


class ContactInput(StrictInputSerializer):
    email = EmailField(required=False, allow_blank=True, max_length=254)
    phone = PhoneField(required=False, allow_blank=True, max_length=40)
    tags = serializers.ListField(
        child=StrictCharField(max_length=100), required=False, max_length=200
    )
    custom_fields = JSONObjectField(required=False)
    Meta = _input_meta(Contact)


class TaskInput(StrictInputSerializer):
    Meta = _input_meta(Task)


class NoteInput(StrictInputSerializer):
    Meta = _input_meta(Note)


class AppointmentInput(StrictInputSerializer):
    Meta = _input_meta(Appointment)


# Nested routes (/contacts/{id}/tasks/) take the contact from the URL.
class NestedTaskInput(TaskInput):
    Meta = _input_meta(Task, exclude=("contact",))


class NestedNoteInput(NoteInput):
    Meta = _input_meta(Note, exclude=("contact",))


class NestedAppointmentInput(AppointmentInput):
    Meta = _input_meta(Appointment, exclude=("contact",))


@extend_schema_field({"allOf": [{"$ref": "#/components/schemas/ContactInputRequest"}]})
class BulkItemField(serializers.JSONField):
    """One bulk item: a contact's fields, validated on its own by the view (partial success)."""


class BulkContactsInput(serializers.Serializer):
    """The envelope of a bulk upsert; each item is validated on its own (partial success)."""

    # A null item is allowed here and refused on its own, like any other bad item.
    contacts = serializers.ListField(
        child=BulkItemField(allow_null=True), min_length=1, max_length=MAX_BULK_ITEMS
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping) and set(data) - {"contacts"}:
            unknown = sorted(str(name) for name in set(data) - {"contacts"})
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


# --- Output ---------------------------------------------------------------------------------


class SyncStateOutput(serializers.Serializer):
    connection = serializers.CharField(help_text="The connection's slug.")
    provider = serializers.CharField()
    remote_id = serializers.CharField(help_text="The object's id there; empty until created.")
    status = serializers.CharField(
        help_text="The newest push's status (pending, in_flight, retrying, done, failed, dead), "
        "or `linked` for an object that came from that system."
    )
    last_error = serializers.CharField()
    synced_at = serializers.DateTimeField(allow_null=True)


class MirrorListOutput(serializers.ListSerializer):
    """A page: the sync state of all its objects in a few queries instead of per object, and
    each object through one row converter (contacts/api/rows.py) instead of DRF's per-object
    field walk."""

    def to_representation(self, data):
        objects = list(data.all() if hasattr(data, "all") else data)
        self.child.sync_states = sync_states_for(objects)
        convert = model_row_converter(self.child)
        return [convert(obj) for obj in objects]


class MirrorOutput(serializers.ModelSerializer):
    """What every mirror object shows, including where it stands in each connected system."""

    serializer_related_field = PublicIdField
    # An e-mail or website may be empty (""): no `format` is promised for what is shown.
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.EmailField: serializers.CharField,
        models.URLField: serializers.CharField,
    }
    id = serializers.CharField(source="public_id", read_only=True)
    workspace = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    sync = serializers.SerializerMethodField()

    COMMON = ("id", "workspace", "version", "created_at", "updated_at", "deleted_at", "sync")

    @extend_schema_field(SyncStateOutput(many=True))
    def get_sync(self, obj: MirrorModel) -> list[dict]:
        states = getattr(self, "sync_states", None)
        if states is None:
            states = sync_states_for([obj])
        return [self._sync_state_row(state) for state in states.get(obj.pk, [])]

    @cached_property
    def _sync_state_row(self) -> Callable[[dict], dict]:
        # One serializer for the whole page: building one per object (DRF deep-copies its
        # fields each time) was half the CPU time of a 100-contact list page. A state is a
        # dict with every field's key (contacts/sync_state.py).
        output = SyncStateOutput()
        return row_converter(output, output.fields.keys(), by_key=True)


def _output_meta(model: type[MirrorModel]) -> type:
    names = (*MirrorOutput.COMMON, *writable_fields(model))
    return type(
        "Meta",
        (),
        {
            "model": model,
            "fields": names,
            "read_only_fields": names,
            "list_serializer_class": MirrorListOutput,
        },
    )


class UserOutput(MirrorOutput):
    Meta = _output_meta(CrmUser)


class ContactOutput(MirrorOutput):
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    custom_fields = serializers.DictField(read_only=True)
    Meta = _output_meta(Contact)


class TaskOutput(MirrorOutput):
    Meta = _output_meta(Task)


class NoteOutput(MirrorOutput):
    Meta = _output_meta(Note)


class AppointmentOutput(MirrorOutput):
    Meta = _output_meta(Appointment)


class BulkItemOutput(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "error"])
    id = serializers.CharField(allow_null=True)
    errors = serializers.DictField(allow_null=True)


class BulkOutput(serializers.Serializer):
    results = BulkItemOutput(many=True)
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    failed = serializers.IntegerField()
