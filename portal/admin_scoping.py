"""Workspace scoping for every admin page: one mixin, asked by changelists, change forms,
deletes, actions, CSV exports, list filters and the choices of related-object fields.

A ModelAdmin (or inline) names the lookup from its rows to their workspace in `workspace_path`.
Rows of other workspaces are not there at all: lists and exports skip them, and their change,
delete and history pages are 404. A viewer's rows are read only (no Save, no Delete, no
actions). Admins without `workspace_path` hold agency-wide configuration: readable, changed only
by those who reach every workspace; `agency_only` hides them from everyone else entirely.
`PortalAdminSite.register` gives that agency-only default to any admin registered without this
mixin (Django's, third-party apps'), so a new admin cannot forget the scoping and leak.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from portal.access import workspace_access, workspace_ids_of


class WorkspaceScopedAdmin:
    """Mixin (before admin.ModelAdmin / InlineModelAdmin in the bases)."""

    workspace_path: str | None = "workspace"
    # Rows anyone may read but only agency admins and superusers may add, change or delete.
    agency_changes_only = False
    # Rows nobody but agency admins and superusers may even see.
    agency_only = False

    # --- rows ------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        access = workspace_access(request.user)
        if self.agency_only and not access.everything:
            return queryset.none()
        if self.workspace_path is None:
            return queryset
        return access.visible(queryset, self.workspace_path)

    def get_object(self, request: HttpRequest, object_id, from_field=None):
        # Another workspace's row (or no row) is a 404, not a redirect that confirms it exists.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with this id in your workspaces.")
        return obj

    def changeable(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        access = workspace_access(request.user)
        if self._agency_level(change=True):
            return queryset if access.everything else queryset.none()
        return access.changeable_rows(queryset, self.workspace_path)

    # --- permissions -----------------------------------------------------------------------

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) and self.reaches(request, obj, False)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self.reaches(request, obj, True)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self.reaches(request, obj, True)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        # Inlines pass the parent object; it must be changeable to add children to it.
        parent = args[0] if args else None
        return super().has_add_permission(request, *args) and self.reaches(request, parent, True)

    def reaches(self, request: HttpRequest, obj, change: bool) -> bool:
        access = workspace_access(request.user)
        if self._agency_level(change):
            return access.everything
        if self.workspace_path is None:
            return True
        if obj is None:
            return access.changes_anything if change else True
        ids = workspace_ids_of(obj, self._path_of(obj))
        return access.may_change(ids) if change else access.may_view(ids)

    def _path_of(self, obj) -> str:
        """An inline is asked about its parent object, which may name its workspace otherwise
        (`parent_workspace_path`) than the inline's rows do."""
        if isinstance(obj, self.model):
            return self.workspace_path
        return getattr(self, "parent_workspace_path", self.workspace_path)

    def _agency_level(self, change: bool) -> bool:
        return self.agency_only or (
            change and (self.agency_changes_only or self.workspace_path is None)
        )

    # --- actions ---------------------------------------------------------------------------

    def get_actions(self, request: HttpRequest):
        if not self.reaches(request, None, True):
            return {}
        return super().get_actions(request)

    def response_action(self, request: HttpRequest, queryset: QuerySet):
        # An action touches only the selected rows the operator may change.
        return super().response_action(request, self.changeable(request, queryset))

    # --- related fields and filters --------------------------------------------------------

    def get_field_queryset(self, db, db_field, request: HttpRequest):
        queryset = super().get_field_queryset(db, db_field, request)
        related = db_field.remote_field.model
        path = related_workspace_path(self.admin_site, related)
        if path is None:
            return queryset
        if queryset is None:
            queryset = related._default_manager.using(db).all()
        return workspace_access(request.user).changeable_rows(queryset, path)

    def get_list_filter(self, request: HttpRequest):
        return [self._scoped_filter(entry) for entry in super().get_list_filter(request)]

    def _scoped_filter(self, entry):
        if not isinstance(entry, str) or "__" in entry:
            return entry
        field = self.opts.get_field(entry)
        if not field.is_relation:
            return entry
        if related_workspace_path(self.admin_site, field.related_model) is None:
            return entry
        return (entry, ScopedRelatedFilter)


def related_workspace_path(site: admin.AdminSite, model) -> str | None:
    model_admin = site._registry.get(model)
    return getattr(model_admin, "workspace_path", None)


class ScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-object filter offering only the objects in the operator's workspaces."""

    def field_choices(self, field, request, model_admin):
        related = field.related_model
        path = related_workspace_path(model_admin.admin_site, related)
        allowed = workspace_access(request.user).visible(related._default_manager.all(), path)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            limit_choices_to={"pk__in": allowed.values("pk")},
            ordering=ordering,
        )


class AgencyOnlyAdmin(WorkspaceScopedAdmin):
    """For admins of agency-wide things (users, memberships, task queue, login records)."""

    workspace_path = None
    agency_only = True
