"""Admin forms for mirror objects: the same normalisation and checks as the write path."""

from django import forms
from django.core.exceptions import ValidationError

from contacts.normalize import normalize_email, normalize_phone


class MirrorForm(forms.ModelForm):
    """Normalises e-mail and phone and refuses related objects of another workspace.

    The services would refuse them too; catching it here turns it into a form error.
    """

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
