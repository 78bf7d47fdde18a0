"""Which workspaces a request may see, and which one it creates in."""

from __future__ import annotations

from django.db.models import Q
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from portal.models import Workspace

HEADER = "X-Workspace"


def visible_workspace_ids(request: Request) -> list[int]:
    if not hasattr(request, "_workspace_ids"):
        request._workspace_ids = list(request.auth.workspaces.values_list("id", flat=True))
    return request._workspace_ids


def target_workspace(request: Request) -> Workspace:
    """The workspace to create in: the `X-Workspace` header (slug or CRM location id), which a
    key with several workspaces must send; a key with one workspace may leave it out."""
    workspaces = request.auth.workspaces.all()
    named = request.headers.get(HEADER, "").strip()
    if "\x00" in named:
        raise ValidationError({HEADER: ["Null characters are not allowed."]})
    if named:
        workspace = workspaces.filter(Q(slug=named) | Q(location_id=named)).first()
        if workspace is None:
            raise ValidationError({HEADER: [f"This key has no workspace {named!r}."]})
        return workspace
    found = list(workspaces[:2])
    if len(found) != 1:
        raise ValidationError(
            {HEADER: ["This key has several workspaces: name one in the X-Workspace header."]}
        )
    return found[0]
