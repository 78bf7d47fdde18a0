"""DRF pieces for partner keys: bearer authentication, scope permission, per-key throttle."""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

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
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(INVALID_KEY) from exc
        key = find_usable_key(token)
        if key is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY)
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

    The view names its resource in `scope_resource`.
    """

    def has_permission(self, request: Request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated()
        resource = getattr(view, "scope_resource", None)
        if not resource:
            raise ImproperlyConfigured(f"{type(view).__name__} must name its scope_resource.")
        scope = required_scope(resource, request.method)
        if not key.has_scope(scope):
            raise MissingScope(scope)
        return True


def required_scope(resource: str, method: str) -> str:
    return f"{resource}.readonly" if method in SAFE_METHODS else f"{resource}.write"


class ApiKeyRateThrottle(BaseThrottle):
    """A fixed window counter per key in the shared cache: every web process on every machine
    counts against the same window. `incr` is atomic on Redis (production); on the embedded
    database cache it is read-then-write, so concurrent requests may undercount slightly.
    """

    def allow_request(self, request: Request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        limit, window = parse_rate(settings.API_RATE_LIMIT)
        now = time.time()
        start = int(now // window) * window
        counter = f"api-throttle:{request.auth.pk}:{start}"
        cache.add(counter, 0, timeout=window + 1)
        try:
            count = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.add(counter, 1, timeout=window + 1)
            count = 1
        self._wait = start + window - now
        return count <= limit

    def wait(self) -> float:
        return max(1, math.ceil(self._wait))


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/minute' → (600, 60)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()[0].lower()]
