"""OpenAPI pieces for every partner API: the bearer scheme, the scope each operation needs,
the error body and the request headers the API understands."""

import inspect

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
)
from rest_framework import serializers

from portal.authentication import required_scope


class ScopedAutoSchema(AutoSchema):
    """Appends "Required scope: …" to each operation's description."""

    def get_description(self) -> str:
        description = super().get_description() or ""
        if description == inspect.getdoc(type(self.view)):
            description = ""  # a class docstring is for developers, not partners
        resource = getattr(self.view, "scope_resource", None)
        if resource is None:
            return description
        scope = getattr(self.view, "exact_scope", None) or required_scope(resource, self.method)
        note = f"Required scope: `{scope}`"
        if scope.endswith(".readonly"):
            note += f" (or `{resource}.write`)"
        return f"{description}\n\n{note}.".strip()

    def get_tags(self) -> list[str]:
        resource = getattr(self.view, "scope_resource", None)
        return [resource] if resource else super().get_tags()


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "portal.authentication.ApiKeyAuthentication"
    name = "partnerKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "psk_<prefix>_<secret>",
            "description": (
                "A partner API key (`manage.py apikeys create`). Scopes: `<resource>.readonly` "
                "for reads, `<resource>.write` for writes (implies read), for users, contacts, "
                "tasks, notes and appointments."
            ),
        }


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(allow_null=True)


class ErrorBody(serializers.Serializer):
    error = ErrorDetail()


_ERRORS = {
    400: "Invalid input (field details), malformed JSON or unknown fields.",
    401: "Missing, unknown, expired or revoked API key.",
    403: "The key lacks the scope named in `details.required_scope`.",
    404: "No such object in this key's workspaces.",
    409: "Idempotency-Key reused with another body, in progress, a deleted object or a duplicate.",
    413: "Body larger than 1 MB.",
    415: "Content type is not application/json.",
    422: "Refused by the write path (field details).",
    429: "Too many requests for this key; see Retry-After.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorBody, description=_ERRORS[code]) for code in statuses}


READ_ERRORS = (400, 401, 403, 429)
WRITE_ERRORS = (*READ_ERRORS, 409, 413, 415, 422)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Same key and body: the first response is replayed; another body: 409.",
)
WORKSPACE = OpenApiParameter(
    "X-Workspace",
    str,
    OpenApiParameter.HEADER,
    description="Workspace slug or CRM location id; required when the key has several.",
)
