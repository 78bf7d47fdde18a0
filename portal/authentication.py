"""DRF pieces for partner keys: bearer authentication, scope permission, rate limits (per key,
and per client address for requests without a usable key)."""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from portal import throttle
from portal.apikeys import find_usable_key, touch_last_used
from portal.models import ApiKey

INVALID_KEY = "Invalid, expired or revoked API key."
logger = logging.getLogger("portal.api")


class ApiKeyUser:
    """What `request.user` is for a partner request: the key, never a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.pk = key.pk

    def __str__(self) -> str:
        return str(self.key)


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            throttle_unidentified(request)
            return None
        key = self._usable_key(parts)
        if key is None:
            throttle_unidentified(request)
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        throttle_key(request, key)
        touch_last_used(key)
        # Reads leave no audit row: this line attributes every request to its exact key.
        logger.info(
            "API request %s %s by key psk_%s (id %s)",
            request.method,
            request.path,
            key.prefix,
            key.pk,
        )
        return ApiKeyUser(key), key

    @staticmethod
    def _usable_key(parts: list[bytes]) -> ApiKey | None:
        if len(parts) != 2:
            return None
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        return find_usable_key(token)

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class MissingScope(exceptions.PermissionDenied):
    default_code = "missing_scope"

    def __init__(self, scope: str, *, fields: list[str] | None = None) -> None:
        needed_for = f" (needed to set {', '.join(fields)})" if fields else ""
        super().__init__(f"This API key lacks the scope {scope}{needed_for}.")
        self.scope = scope


class HasScope(BasePermission):
    """Reads need `<resource>.readonly` (or `.write`), writes need `<resource>.write`.

    The view names its resource in `scope_resource`; a view needing another scope for a method
    (e.g. `contacts.erase` for POST) names it in `method_scopes` (see `view_scope`).
    """

    def has_permission(self, request: Request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated()
        resource = getattr(view, "scope_resource", None)
        if not resource:
            raise ImproperlyConfigured(f"{type(view).__name__} must name its scope_resource.")
        scope = view_scope(view, request.method)
        if not key.has_scope(scope):
            raise MissingScope(scope)
        return True


def required_scope(resource: str, method: str) -> str:
    return f"{resource}.readonly" if method in SAFE_METHODS else f"{resource}.write"


def view_scope(view, method: str) -> str:
    """The view's own scope for this method (`method_scopes`), else the rule above."""
    return getattr(view, "method_scopes", {}).get(method) or required_scope(
        view.scope_resource, method
    )


def throttle_request(request: Request, bucket: str, rate: str) -> None:
    """Count one request in `bucket` (portal/throttle.py: the shared cache's fixed window);
    429 past the rate. The window is kept on the request for the RateLimit-* headers
    (portal.middleware)."""
    window = throttle.count(f"api:{bucket}", rate)
    request._request.rate_window = window
    if window.exceeded:
        raise exceptions.Throttled(wait=max(1, math.ceil(window.reset)))


def client_address(request: Request) -> str:
    """The peer address (behind a proxy: the proxy's, unless it rewrites REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def throttle_unidentified(request: Request) -> None:
    """A request without a usable key is counted per client address (API_ANON_RATE_LIMIT),
    before its key is even looked up, so guessing keys is throttled too."""
    throttle_request(request, f"addr:{client_address(request)}", settings.API_ANON_RATE_LIMIT)


def throttle_key(request: Request, key: ApiKey) -> None:
    """API_RATE_LIMIT per key, counted as soon as the key is known (so a refused request — a
    missing scope, bad input — counts and carries the RateLimit-* headers too)."""
    throttle_request(request, f"key:{key.pk}", settings.API_RATE_LIMIT)
