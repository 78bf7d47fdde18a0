"""Which workspaces a staff user may see and change: the one answer for the whole console.

Superusers and agency admins reach every workspace. Everyone else reaches only the workspaces
of their memberships: an operator views and changes there, a viewer only views. A staff user
without a membership reaches nothing. Django's model permissions still apply on top: access
narrows what they allow, never widens it. Management commands never ask (they run on the server).

Rows name their workspace through a lookup path ("workspace", "connection__workspace", the
Workspace's own "id", or an M2M such as an API key's "workspaces"); a row with several
workspaces is reachable only when all of them are, and a row without one only by those who
reach everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Model, QuerySet

from portal.models import Workspace, WorkspaceMembership, WorkspaceRole

_CACHE_ATTRIBUTE = "_portal_workspace_access"


@dataclass(frozen=True)
class WorkspaceAccess:
    everything: bool
    viewable: frozenset[int]
    changeable: frozenset[int]

    def may_view(self, workspace_ids: list[int | None]) -> bool:
        return self._covers(workspace_ids, self.viewable)

    def may_change(self, workspace_ids: list[int | None]) -> bool:
        return self._covers(workspace_ids, self.changeable)

    @property
    def changes_anything(self) -> bool:
        return self.everything or bool(self.changeable)

    def visible(self, queryset: QuerySet, path: str) -> QuerySet:
        return self._narrow(queryset, path, self.viewable)

    def changeable_rows(self, queryset: QuerySet, path: str) -> QuerySet:
        return self._narrow(queryset, path, self.changeable)

    def _covers(self, workspace_ids: list[int | None], allowed: frozenset[int]) -> bool:
        if self.everything:
            return True
        return bool(workspace_ids) and all(pk in allowed for pk in workspace_ids)

    def _narrow(self, queryset: QuerySet, path: str, allowed: frozenset[int]) -> QuerySet:
        if self.everything:
            return queryset
        ids = sorted(allowed)
        if not _is_many(queryset.model, path):
            return queryset.filter(**{f"{path}__in": ids})
        # Every one of the row's workspaces must be allowed, and it must have at least one.
        others = Workspace.objects.exclude(pk__in=ids)
        with_allowed = queryset.model._default_manager.filter(**{f"{path}__in": ids})
        return queryset.filter(pk__in=with_allowed.values("pk")).exclude(**{f"{path}__in": others})


def workspace_access(user) -> WorkspaceAccess:
    """The user's access, computed once per request (cached on the user object)."""
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = _compute(user)
        setattr(user, _CACHE_ATTRIBUTE, cached)
    return cached


def _compute(user) -> WorkspaceAccess:
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return WorkspaceAccess(False, frozenset(), frozenset())
    if user.is_superuser:
        return WorkspaceAccess(True, frozenset(), frozenset())
    roles = list(WorkspaceMembership.objects.filter(user=user).values_list("workspace_id", "role"))
    if any(role == WorkspaceRole.AGENCY_ADMIN for _, role in roles):
        return WorkspaceAccess(True, frozenset(), frozenset())
    return WorkspaceAccess(
        everything=False,
        viewable=frozenset(pk for pk, _ in roles if pk is not None),
        changeable=frozenset(pk for pk, role in roles if role == WorkspaceRole.OPERATOR),
    )


def reaches_everything(user) -> bool:
    return workspace_access(user).everything


def workspace_ids_of(obj: Model, path: str) -> list[int | None]:
    """The workspace ids a row belongs to, following `path` ("connection__workspace", ...)."""
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop)
        if obj is None:
            return [None]
    field = obj._meta.get_field(last)
    if field.many_to_many:
        return list(getattr(obj, last).values_list("pk", flat=True))
    if field.primary_key:
        return [obj.pk]
    return [getattr(obj, field.attname)]


def _is_many(model: type[Model], path: str) -> bool:
    for hop in path.split("__"):
        field = model._meta.get_field(hop)
        if field.many_to_many or field.one_to_many:
            return True
        model = field.related_model or model
    return False
