"""One error shape for the JSON API: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

# DRF's own codes, renamed where a partner would read them better.
_CODES = {
    "not_authenticated": "unauthenticated",
    "authentication_failed": "unauthenticated",
    "permission_denied": "permission_denied",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "not_acceptable": "not_acceptable",
    "unsupported_media_type": "unsupported_media_type",
    "parse_error": "malformed_json",
    "throttled": "rate_limited",
    "invalid": "invalid",
}


# Every `error.code` the API answers with (the schema's enum; a test keeps them honest).
ERROR_CODES = (
    "invalid",
    "malformed_json",
    "too_deep",
    "unauthenticated",
    "permission_denied",
    "missing_scope",
    "not_found",
    "method_not_allowed",
    "not_acceptable",
    "unsupported_media_type",
    "payload_too_large",
    "length_required",
    "rate_limited",
    "conflict",
    "deleted",
    "duplicate",
    "idempotency_key_reused",
    "idempotency_in_progress",
    "precondition_failed",
    "unprocessable",
    "crm_unavailable",
    "server_error",
)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than 1 MB."
    default_code = "payload_too_large"


class PreconditionFailed(exceptions.APIException):
    """`If-Match` named another version than the object's current one (a lost update)."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The object changed since you read it (If-Match does not match its ETag)."
    default_code = "precondition_failed"

    def __init__(self, current_etag: str) -> None:
        super().__init__()
        self.details = {"etag": current_etag}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    """Input that is well-formed but that the write path refused (its ValidationError)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The object was refused."
    default_code = "unprocessable"

    def __init__(self, error: DjangoValidationError) -> None:
        super().__init__(self.default_detail)
        self.details = (
            error.message_dict if hasattr(error, "error_dict") else {"non_field": error.messages}
        )


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = Unprocessable(exc)
    elif isinstance(exc, RequestDataTooBig):  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE (1 MB)
        exc = PayloadTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    response.data = error_body(*_describe(exc))
    return response


def server_error_response(request_id: str) -> JsonResponse:
    """What an unexpected exception answers (portal.middleware.ApiResponseMiddleware)."""
    message = "Internal error; it was logged. Quote the request id when reporting it."
    body = error_body("server_error", message, {"request_id": request_id})
    return JsonResponse(body, status=500)


def _describe(exc: exceptions.APIException) -> tuple[str, str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid", "The request has invalid fields.", exc.detail
    if isinstance(exc, Unprocessable):
        return exc.default_code, str(exc.detail), exc.details
    code = getattr(exc, "default_code", "error")
    details = getattr(exc, "details", None)
    if isinstance(exc, exceptions.Throttled):
        details = {"retry_after": exc.wait and int(exc.wait)}
    if code == "missing_scope":
        details = {"required_scope": exc.scope}
    message = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
    return _CODES.get(code, code), str(message), details


@csrf_exempt  # a program's request: never a CSRF refusal, whatever the method
def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Unknown paths under /api/ and /webhooks/ answer in the API's shape, not with an HTML
    page; a path that only lacks its trailing slash names the right URL (a redirect would turn
    a POST into GET)."""
    with_slash = request.path + "/"
    if not request.path.endswith("/") and _is_endpoint(with_slash):
        message = f"No such endpoint; did you mean {with_slash}?"
        return JsonResponse(error_body("not_found", message, {"url": with_slash}), status=404)
    return JsonResponse(error_body("not_found", "No such endpoint."), status=404)


def _is_endpoint(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.func is not api_not_found
