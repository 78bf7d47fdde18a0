"""Who may see and change which workspace (portal/access.py): edited by agency admins and
superusers only, every change audited."""

from django.contrib import admin

from portal.admin_base import AuditedModelAdmin
from portal.admin_scoping import AgencyOnlyAdmin
from portal.models import WorkspaceMembership


@admin.register(WorkspaceMembership)
class WorkspaceMembershipAdmin(AgencyOnlyAdmin, AuditedModelAdmin):
    list_display = ("user", "role", "workspace", "created_at")
    list_filter = ("role", "workspace")
    search_fields = ("user__username", "user__email", "workspace__name")
    list_select_related = ("user", "workspace")
    autocomplete_fields = ("user",)
