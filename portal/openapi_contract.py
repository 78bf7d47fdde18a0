"""The last step of schema generation (a drf-spectacular postprocessing hook): what makes the
schema an exact contract, so a partner's generated client and a schema fuzzer agree with the
API — global security, the response headers every answer carries, and request
bodies that refuse unknown fields (`additionalProperties: false`, as the API does)."""

from __future__ import annotations

from typing import Any

_INT = {"type": "integer", "minimum": 0}
HEADERS = {
    "X-Request-ID": {
        "description": "This request's id (yours, if you sent a plain one); logs and audit "
        "entries carry it. Quote it when reporting a problem.",
        "schema": {"type": "string"},
    },
    "RateLimit-Limit": {"description": "Requests allowed per window.", "schema": _INT},
    "RateLimit-Remaining": {"description": "Requests left in this window.", "schema": _INT},
    "RateLimit-Reset": {"description": "Seconds until the window ends.", "schema": _INT},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": _INT},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "ETag": {
        "description": "The object's version, for `If-Match` on PUT, PATCH and DELETE.",
        "schema": {"type": "string"},
    },
}
ALWAYS = ("X-Request-ID", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def document_contract(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    result["security"] = [{"partnerKey": []}]
    components = result.setdefault("components", {})
    components["headers"] = {
        name: {**header, "required": name in ALWAYS} for name, header in HEADERS.items()
    }
    for operation in _operations(result):
        _document_headers(operation)
    for name, schema in components.get("schemas", {}).items():
        if name.endswith("Request") and "properties" in schema:
            schema["additionalProperties"] = False
    return result


def _operations(result: dict[str, Any]):
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield operation


def _document_headers(operation: dict[str, Any]) -> None:
    parameters = {p.get("name") for p in operation.get("parameters", [])}
    for status, response in operation.get("responses", {}).items():
        names = list(ALWAYS)
        if status == "429":
            names.append("Retry-After")
        if status.startswith("2") and "Idempotency-Key" in parameters:
            names.append("Idempotent-Replayed")
        if status in ("200", "201") and _is_one_object(response):
            names.append("ETag")
        headers = response.setdefault("headers", {})
        for name in names:
            headers[name] = {"$ref": f"#/components/headers/{name}"}


def _is_one_object(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    reference = schema.get("$ref", "")
    return reference.endswith("Output") and not reference.endswith("ListOutput")
