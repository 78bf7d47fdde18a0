"""OAuth 2.0 for the CRM: the install redirect (operators) and the callback (the CRM)."""

from django.contrib.admin.views.decorators import staff_member_required
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from sync.connectors.highlevel import REQUIRED_SCOPES
from sync.connectors.highlevel_oauth import connection_from_state, exchange_code, install_url
from sync.http import RemoteError
from sync.models import Connection


def _callback_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("sync:highlevel-oauth-callback"))


@staff_member_required
def highlevel_install(request: HttpRequest, slug: str) -> HttpResponse:
    connection = get_object_or_404(Connection.objects.live(), slug=slug, provider="highlevel")
    return redirect(install_url(connection, _callback_uri(request), list(REQUIRED_SCOPES)))


def highlevel_callback(request: HttpRequest) -> HttpResponse:
    code, state = request.GET.get("code", ""), request.GET.get("state", "")
    if not code or not state:
        return HttpResponseBadRequest("Missing code or state.")
    try:
        connection = connection_from_state(state)
    except (signing.BadSignature, Connection.DoesNotExist):
        return HttpResponseBadRequest("Invalid or expired state: start the install again.")
    try:
        exchange_code(connection, code, _callback_uri(request))
    except RemoteError as exc:
        return HttpResponse(f"The CRM refused the code: {exc.message}", status=502)
    return HttpResponse(f"Connected {connection.name}. You can close this page.")
