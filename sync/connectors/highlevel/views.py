"""OAuth 2.0 for the CRM: the install redirect and the callback, both for operators only.

The operator must be logged in and allowed to change the connection, both when the install
starts and when the CRM sends the browser back. `state` is a one-time nonce of this session
(sync/connectors/highlevel/oauth.py). Pages render through an escaped template: a connection
name or a remote error body is text, never markup.
"""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from portal.access import workspace_access
from portal.actors import Actor
from portal.audit import record_change
from portal.models import AuditAction
from sync.connectors.highlevel.client import REQUIRED_SCOPES
from sync.connectors.highlevel.oauth import (
    InvalidState,
    WrongLocation,
    exchange_code,
    install_url,
    issue_state,
    redeem_state,
)
from sync.models import Connection
from sync.transport.http import RemoteError


def may_change_connection(user: AbstractBaseUser, connection: Connection) -> bool:
    """Who may (re)install a connection's CRM app: an operator allowed to change connections,
    in the connection's workspace (portal/access.py)."""
    allowed = user.is_active and user.is_staff and user.has_perm("sync.change_connection")
    return bool(allowed and workspace_access(user).may_change([connection.workspace_id]))


def _callback_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("sync:highlevel-oauth-callback"))


def _page(request: HttpRequest, status: int, title: str, message: str) -> TemplateResponse:
    context = {
        **admin.site.each_context(request),
        "title": title,
        "message": message,
        "ok": status == 200,
    }
    response = TemplateResponse(request, "sync/oauth_result.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _allowed(request: HttpRequest, connection: Connection) -> None:
    if not may_change_connection(request.user, connection):
        raise PermissionDenied("You may not change this connection.")


@staff_member_required
def highlevel_install(request: HttpRequest, slug: str) -> HttpResponse:
    connection = get_object_or_404(Connection.objects.live(), slug=slug, provider="highlevel")
    _allowed(request, connection)
    state = issue_state(request.session, connection)
    return redirect(install_url(connection, _callback_uri(request), list(REQUIRED_SCOPES), state))


@staff_member_required
def highlevel_callback(request: HttpRequest) -> HttpResponse:
    code, state = request.GET.get("code", ""), request.GET.get("state", "")
    if not code or not state:
        return _page(request, 400, "Install not finished", "Missing code or state.")
    try:
        connection = redeem_state(request.session, state)
    except InvalidState as exc:
        return _page(request, 400, "Install not finished", str(exc))
    _allowed(request, connection)
    try:
        exchange_code(connection, code, _callback_uri(request))
    except WrongLocation as exc:
        _record_refusal(request, connection, str(exc))
        return _page(request, 403, "Install refused", str(exc))
    except RemoteError as exc:
        return _page(request, 502, "Install failed", f"The CRM refused the code: {exc.message}")
    return _page(
        request, 200, "Connected", f"Connected {connection.name}. You can close this page."
    )


def _record_refusal(request: HttpRequest, connection: Connection, reason: str) -> None:
    """Visible twice: in the audit trail and as the connection's last error."""
    with transaction.atomic():
        record_change(
            actor=Actor.operator(request.user, request_id=getattr(request, "request_id", "")),
            action=AuditAction.REFUSE,
            instance=connection,
            changes={"oauth_install": [None, reason]},
        )
        connection.record_error(reason)
