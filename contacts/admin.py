"""Admin pages for the mirror. Every save and delete goes through `contacts.services`."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, QuerySet

from contacts.admin_erasure import erase_personal_data
from contacts.forms import MirrorForm
from contacts.models import Appointment, Contact, CrmUser, MirrorModel, Note, Task
from contacts.normalize import normalize_phone
from contacts.services import mirror_create, mirror_delete, mirror_update, writable_fields
from portal.admin import operator
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


class LiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("live", "Live"), ("deleted", "Deleted"))

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
        # Deleting is a tombstone, never a cascade: nothing else is removed or protected.
        perms_needed = set() if self.has_delete_permission(request) else {self.opts.verbose_name}
        objs = list(objs)
        return [str(o) for o in objs], {self.opts.verbose_name_plural: len(objs)}, perms_needed, []


class ChildInline(WorkspaceScopedAdmin, admin.TabularInline):
    """Tasks, notes and appointments under their contact; saved by ContactAdmin.save_formset."""

    form = MirrorForm
    extra = 0
    show_change_link = True
    raw_id_fields = ("assigned_user",)

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
    list_display = (
        "__str__",
        "email",
        "phone",
        "company_name",
        "workspace",
        "updated_at",
        "deleted_at",
    )
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
    list_display = ("__str__", "email", "phone", "role", "type", "workspace", "updated_at")
    list_filter = ("workspace", LiveFilter, "role", "type")
    search_fields = ("first_name", "last_name", "email", "phone", "=public_id")


class ContactChildAdmin(MirrorAdmin):
    list_select_related = ("workspace", "contact")
    raw_id_fields = ("contact", "assigned_user")

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).select_related("workspace", "contact")


@admin.register(Task)
class TaskAdmin(ContactChildAdmin):
    list_display = ("title", "contact", "due_date", "completed", "workspace", "updated_at")
    list_filter = ("workspace", LiveFilter, "completed")
    search_fields = ("title", "contact__email", "=public_id")


@admin.register(Note)
class NoteAdmin(ContactChildAdmin):
    list_display = ("__str__", "contact", "author", "workspace", "updated_at")
    list_select_related = ("workspace", "contact", "author")
    list_filter = ("workspace", LiveFilter)
    search_fields = ("body", "contact__email", "=public_id")
    raw_id_fields = ("contact", "author")


@admin.register(Appointment)
class AppointmentAdmin(ContactChildAdmin):
    list_display = ("__str__", "contact", "status", "start_time", "workspace", "updated_at")
    list_filter = ("workspace", LiveFilter, "status")
    search_fields = ("title", "contact__email", "calendar_id", "=public_id")
