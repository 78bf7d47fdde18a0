"""Request ids: every request gets one (or keeps the caller's), logs and audit rows carry it."""

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("portal.api")
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")

# A caller-supplied id is kept only when it is short and plain, so it cannot forge log lines.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-ID", "")
        request_id = supplied if _SAFE_REQUEST_ID.match(supplied) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get() or "-"
        return True


# Paths whose callers are programs: every answer there is JSON, a crash included. Deliveries
# also run their own middleware (portal/webhook_middleware.py).
WEBHOOK_PREFIX = "/webhooks/"
JSON_PATH_PREFIXES = ("/api/", WEBHOOK_PREFIX)


class ApiResponseMiddleware:
    """An unexpected exception in an API or webhook view answers the API's error shape with
    the request id (the trace goes to the log), never Django's HTML error page. Also: the
    RateLimit-* headers of the caller's window (portal.authentication) on every response, and
    a refused body drained so the connection stays usable."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 413:
            discard_unread_body(request)
        window = getattr(request, "rate_window", None)
        if window is not None:
            for name, value in window.headers().items():
                response[name] = value
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(JSON_PATH_PREFIXES):
            return None
        from portal.api_errors import server_error_response

        logger.exception("Unhandled error in %s %s", request.method, request.path)
        return server_error_response(getattr(request, "request_id", ""))


# A refused body up to this size is read and dropped; a larger one costs the connection.
DISCARD_BODY_LIMIT = 16 * 1024 * 1024


def discard_unread_body(request: HttpRequest) -> None:
    """Read the rest of a refused body, so the connection stays usable for the next request:
    the server answers `keep-alive`, and a pooled client would otherwise meet a closed socket.
    (WSGI forbids an application to send `Connection: close`.)"""
    stream = getattr(request, "_stream", None)
    if stream is None:
        return
    left = DISCARD_BODY_LIMIT
    try:
        while left > 0:
            chunk = stream.read(min(65536, left))
            if not chunk:
                return
            left -= len(chunk)
    except OSError:
        return
