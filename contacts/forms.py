"""Admin forms for mirror objects: the same normalisation and checks as the write path."""

from django import forms
from django.core.exceptions import ValidationError

from contacts.editors import CustomFieldsField, TagsField, as_text_values, restore_types
from contacts.normalize import normalize_email, normalize_phone


class MirrorForm(forms.ModelForm):
    """Normalises e-mail and phone and refuses related objects of another workspace.

    The services would refuse them too; catching it here turns it into a form error.
    Tags and custom fields get row editors instead of raw JSON (contacts/editors.py).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "tags" in self.fields:
            self.fields["tags"] = TagsField(label="Tags")
        if "custom_fields" in self.fields:
            self.fields["custom_fields"] = CustomFieldsField(label="Custom fields")
            self.initial["custom_fields"] = as_text_values(self.initial.get("custom_fields"))

    def clean_custom_fields(self) -> dict:
        return restore_types(self.cleaned_data.get("custom_fields") or {},
                             self.instance.custom_fields if self.instance.pk else None)  # fmt: skip

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data.get("email"))

    def clean_phone(self) -> str:
        return normalize_phone(self.cleaned_data.get("phone"))

    def clean(self) -> dict:
        cleaned = super().clean()
        workspace = cleaned.get("workspace") or getattr(self.instance, "workspace", None)
        parent = cleaned.get("contact")
        if workspace is None and parent is not None:
            workspace = parent.workspace
        if workspace is None:
            return cleaned
        for name, value in cleaned.items():
            if name != "workspace" and getattr(value, "workspace_id", workspace.pk) != workspace.pk:
                self.add_error(name, ValidationError("Belongs to another workspace."))
        return cleaned
