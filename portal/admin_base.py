"""What every admin page of the console builds on: audited saves, read-only pages, the
operator as an actor. Kept apart from portal/admin.py (which registers the portal's own pages)
so the other apps' admins import it without importing each other."""

from django.contrib import admin
from django.db import models, transaction
from django.http import HttpRequest

from portal.actors import Actor
from portal.audit import field_changes, record_change
from portal.models import AuditAction


def https_formfield(field: models.Field, **kwargs):
    """Model forms' URL fields assume https for a bare host (Django 6's default, chosen now)."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


def operator(request: HttpRequest) -> Actor:
    return Actor.operator(request.user, request_id=getattr(request, "request_id", ""))


class ReadOnlyAdminMixin:
    """Records the system writes and operators only read (the audit trail, the outbox, remote
    calls): no Add, no Save, no Delete, and plain titles — "Outbound changes" and "Outbound
    change 12", not "Select outbound change to change". Admin actions still work."""

    def has_add_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        title = self.model._meta.verbose_name_plural.capitalize()
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None):  # fmt: skip
        title = f"{self.model._meta.verbose_name.capitalize()} {object_id}"
        return super().change_view(request, object_id, form_url,
                                   {"title": title, **(extra_context or {})})  # fmt: skip


class AuditedModelAdmin(admin.ModelAdmin):
    """Configuration objects (workspaces, connections, keys, mappings): every change audited."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            if change:
                before = type(obj).objects.get(pk=obj.pk)
                new_values = {name: getattr(obj, name) for name in form.changed_data}
                changes = field_changes(before, new_values)
            else:
                changes = {
                    name: [None, getattr(obj, name)]
                    for name in form.changed_data
                    if hasattr(obj, name)
                }
            super().save_model(request, obj, form, change)
            if changes or not change:
                action = AuditAction.UPDATE if change else AuditAction.CREATE
                record_change(actor=operator(request), action=action, instance=obj, changes=changes)

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            record_change(
                actor=operator(request), action=AuditAction.DELETE, instance=obj, changes={}
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)
