"""Admin pages for the mirror. Every save and delete goes through `contacts.services`."""

import logging

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.shortcuts import redirect
from django.utils.formats import date_format
from django.utils.html import format_html

from contacts.admin_erasure import erase_personal_data
from contacts.forms import MirrorForm
from contacts.models import Appointment, Contact, CrmUser, MirrorModel, Note, Task
from contacts.normalize import normalize_phone
from contacts.services import (
    mirror_create,
    mirror_delete,
    mirror_update,
    tombstoned_with,
    writable_fields,
)
from portal.admin_base import operator
from portal.admin_scoping import WorkspaceScopedAdmin
from portal.pagination import EstimatedCountPaginator

SYSTEM_READONLY = (
    "public_id",
    "version",
    "created_at",
    "updated_at",
    "source_updated_at",
    "deleted_at",
)


logger = logging.getLogger(__name__)


class LiveFilter(admin.SimpleListFilter):
    """Deleted (tombstoned) records are hidden unless asked for."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("live", "Live"), ("deleted", "Deleted"), ("all", "Live and deleted"))

    def value(self):
        return super().value() or "live"

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:  # no "All": the default is "Live"
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


def _copy_state(source: MirrorModel, target: MirrorModel) -> None:
    """Make the admin's in-memory object match what the service saved."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False


def _values(obj: MirrorModel, names) -> dict:
    fields = writable_fields(type(obj))
    return {name: getattr(obj, name) for name in names if name in fields}


class MirrorAdmin(WorkspaceScopedAdmin, admin.ModelAdmin):
    form = MirrorForm
    list_select_related = ("workspace",)
    show_full_result_count = False  # no second full-table count on every page
    paginator = EstimatedCountPaginator
    list_per_page = 50
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_readonly_fields(self, request, obj=None):
        return (*SYSTEM_READONLY, "workspace") if obj else SYSTEM_READONLY

    # A tombstone is final (the write path ignores updates to it): its page is read-only, with
    # no Save or Delete, and a POST to it is refused with a message instead of "changed".
    def has_change_permission(self, request, obj=None) -> bool:
        return not (obj and obj.is_deleted) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not (obj and obj.is_deleted) and super().has_delete_permission(request, obj)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        if obj is not None and obj.is_deleted and request.method == "POST":
            return self._refuse_edit_of_deleted(request, obj)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _refuse_edit_of_deleted(self, request, obj: MirrorModel):
        logger.warning("Refused an admin edit of deleted %s %s by %s", self.opts.model_name,
                       obj.public_id, request.user.get_username())  # fmt: skip
        when = date_format(obj.deleted_at, "DATETIME_FORMAT")
        self.message_user(request, f"{obj} was deleted on {when}: deleted records are "
                          "read-only, so nothing was saved.", messages.ERROR)  # fmt: skip
        return redirect(request.path)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            saved, _ = mirror_update(
                obj, actor=operator(request), data=_values(obj, form.changed_data)
            )
        else:
            saved = mirror_create(
                type(obj),
                workspace=obj.workspace,
                actor=operator(request),
                data=_values(obj, writable_fields(type(obj))),
            )
        _copy_state(saved, obj)

    def delete_model(self, request, obj) -> None:
        mirror_delete(obj, actor=operator(request))

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset.filter(deleted_at__isnull=True):
            mirror_delete(obj, actor=operator(request))

    def get_deleted_objects(self, objs, request):
        """What the delete tombstones: the records and (for contacts) their live tasks, notes
        and appointments. Nothing is removed: deleted records stay readable, hidden by default."""
        perms_needed = set() if self.has_delete_permission(request) else {self.opts.verbose_name}
        listed, counts = [], {}
        for obj in objs:
            children = tombstoned_with(obj) if isinstance(obj, Contact) else []
            listed += [_labelled(obj), [_labelled(child) for child in children]]
            for item in (obj, *children):
                name = item._meta.verbose_name_plural
                counts[name] = counts.get(name, 0) + 1
        return listed, counts, perms_needed, []


def _labelled(obj: MirrorModel) -> str:
    return f"{obj._meta.verbose_name.capitalize()}: {obj} ({obj.public_id})"


@admin.display(boolean=True, description="deleted", ordering="deleted_at")
def deleted(obj: MirrorModel) -> bool:
    return obj.is_deleted


@admin.display(description="name", ordering="last_name")
def person(obj: MirrorModel) -> str:
    """Name and e-mail in one cell: one column fewer, so the list fits 1,280 px."""
    return format_html('{}<br><span class="muted">{}</span>', str(obj), obj.email or "")


class ChildInline(WorkspaceScopedAdmin, admin.TabularInline):
    """Tasks, notes and appointments under their contact; saved by ContactAdmin.save_formset."""

    form = MirrorForm
    extra = 0
    show_change_link = True
    raw_id_fields = ("assigned_user",)

    def _parent_deleted(self, obj) -> bool:
        return bool(obj and obj.is_deleted)

    def has_add_permission(self, request, obj=None) -> bool:
        return not self._parent_deleted(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return not self._parent_deleted(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not self._parent_deleted(obj) and super().has_delete_permission(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(deleted_at__isnull=True)


class TaskInline(ChildInline):
    model = Task
    fields = ("title", "due_date", "completed", "assigned_user")


class NoteInline(ChildInline):
    model = Note
    fields = ("body", "author")
    raw_id_fields = ("author",)


class AppointmentInline(ChildInline):
    model = Appointment
    fields = ("title", "calendar_id", "status", "start_time", "end_time", "assigned_user")


@admin.register(Contact)
class ContactAdmin(MirrorAdmin):
    list_display = (person, "phone", "company_name", "workspace", "updated_at", deleted)
    list_filter = ("workspace", LiveFilter, "dnd", "country")
    search_fields = ("first_name", "last_name", "email", "phone", "company_name", "=public_id")
    raw_id_fields = ("assigned_user",)
    inlines = (TaskInline, NoteInline, AppointmentInline)
    actions = (erase_personal_data,)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "workspace",
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "company_name",
                    "business_id",
                    "assigned_user",
                )
            },
        ),
        (
            "Address",
            {
                "fields": (
                    "address1",
                    "city",
                    "state",
                    "postal_code",
                    "country",
                    "timezone",
                    "website",
                )
            },
        ),
        (
            "More",
            {
                "fields": (
                    "gender",
                    "date_of_birth",
                    "dnd",
                    "source",
                    "tags",
                    "custom_fields",
                    "external_id",
                )
            },
        ),
        ("Sync", {"fields": SYSTEM_READONLY}),
    )

    def get_search_results(self, request, queryset, search_term):
        """A phone typed any way ("(555) 010-0000") finds the E.164 number we store."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            phone = normalize_phone(search_term)
        except ValidationError:
            return found, may_have_duplicates
        if phone:
            # Within the list's rows (the operator's workspaces, the filters chosen).
            found |= queryset.filter(Q(phone=phone))
        return found, may_have_duplicates

    def save_formset(self, request, form, formset, change) -> None:
        actor = operator(request)
        contact = form.instance
        formset.save(commit=False)
        for obj in formset.deleted_objects:
            mirror_delete(obj, actor=actor)
        for obj in formset.new_objects:
            data = {**_values(obj, writable_fields(type(obj))), "contact": contact}
            mirror_create(type(obj), workspace=contact.workspace, actor=actor, data=data)
        for obj, changed in formset.changed_objects:
            mirror_update(obj, actor=actor, data=_values(obj, changed))


@admin.register(CrmUser)
class CrmUserAdmin(MirrorAdmin):
    list_display = (person, "phone", "role", "type", "workspace", "updated_at", deleted)
    list_filter = ("workspace", LiveFilter, "role", "type")
    search_fields = ("first_name", "last_name", "email", "phone", "=public_id")


class ContactChildAdmin(MirrorAdmin):
    list_select_related = ("workspace", "contact")
    raw_id_fields = ("contact", "assigned_user")

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).select_related("workspace", "contact")


@admin.register(Task)
class TaskAdmin(ContactChildAdmin):
    list_display = ("title", "contact", "due_date", "completed", "workspace", "updated_at", deleted)
    list_filter = ("workspace", LiveFilter, "completed")
    search_fields = ("title", "contact__email", "=public_id")


@admin.register(Note)
class NoteAdmin(ContactChildAdmin):
    list_display = ("__str__", "contact", "author", "workspace", "updated_at", deleted)
    list_select_related = ("workspace", "contact", "author")
    list_filter = ("workspace", LiveFilter)
    search_fields = ("body", "contact__email", "=public_id")
    raw_id_fields = ("contact", "author")


@admin.register(Appointment)
class AppointmentAdmin(ContactChildAdmin):
    list_display = (
        "__str__",
        "contact",
        "status",
        "start_time",
        "workspace",
        "updated_at",
        deleted,
    )
    list_filter = ("workspace", LiveFilter, "status")
    search_fields = ("title", "contact__email", "calendar_id", "=public_id")
