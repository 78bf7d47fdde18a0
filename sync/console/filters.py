"""List filters and queryset helpers for the sync changelists."""

from django.contrib import admin

from portal.access import workspace_access
from sync.models import Connection


class ConnectionFilter(admin.RelatedFieldListFilter):
    """Connections by name, without loading their credentials.

    The default filter loads whole Connection rows, decrypting every credential: a page listing
    attempts would then fail for everyone the moment one key is missing from FERNET_KEYS.
    """

    def field_choices(self, field, request, model_admin):
        mine = workspace_access(request.user).visible(Connection.objects.all(), "workspace")
        return list(mine.order_by("name").values_list("pk", "name"))


class WithoutCredentialsMixin:
    """ModelAdmin mixin for rows listed with their connection (list_select_related): the
    connection's encrypted credentials are never loaded, so no page depends on FERNET_KEYS."""

    def get_queryset(self, request):
        return super().get_queryset(request).defer("connection__credentials")
