"""Webhook endpoints: verify over the raw body, store, answer at once (processing is a task).

    POST /webhooks/highlevel/          the CRM (x-ghl-signature Ed25519, x-wh-signature RSA)
    POST /webhooks/in/<slug>/          a partner connection (Standard Webhooks)

Answers: 200 accepted or duplicate; 202 unmatched location or unknown event type (stored);
400 not a JSON object / not UTF-8; 401 signature or timestamp; 404 unknown connection;
413 over DATA_UPLOAD_MAX_MEMORY_SIZE; 415 not application/json. Errors are
{"error": {"code", "message", "details"}}.
"""

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sync.models import Connection
from sync.webhooks import intake
from sync.webhooks.signatures import (
    SignatureError,
    check_timestamp,
    parse_timestamp,
    verify_highlevel,
    verify_standard,
)


class Rejected(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    return Response(
        {"error": {"code": code, "message": message, "details": details}}, status=status
    )


class WebhookView(APIView):
    """Shared checks; each endpoint defines `receive(request, raw, **kwargs) -> Receipt`."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []
    schema = None  # not part of the partner API's OpenAPI document

    def post(self, request: Request, **kwargs: Any) -> Response:
        try:
            receipt = self.receive(request, _raw_body(request), **kwargs)
        except Rejected as exc:
            return error_response(exc.status, exc.code, exc.message, exc.details)
        except SignatureError as exc:
            return error_response(401, exc.code, exc.message)
        return Response(receipt.body, status=receipt.status_code)


class HighLevelWebhookView(WebhookView):
    def receive(self, request: Request, raw: bytes, **kwargs: Any) -> intake.Receipt:
        scheme = verify_highlevel(raw, request.headers)
        text, payload = _json_object(raw)
        timestamp = parse_timestamp(payload.get("timestamp"))
        check_timestamp(timestamp)
        return intake.receive_highlevel(
            text, payload, headers=request.headers, scheme=scheme, timestamp=timestamp
        )


class PartnerWebhookView(WebhookView):
    def receive(self, request: Request, raw: bytes, **kwargs: Any) -> intake.Receipt:
        connection = Connection.objects.live().filter(slug=kwargs["slug"], active=True).first()
        if connection is None:
            raise Rejected(404, "not_found", "No active connection with this slug.")
        msg_id = verify_standard(_partner_secrets(connection), request.headers, raw)
        text, payload = _json_object(raw)
        timestamp = parse_timestamp(int(request.headers["webhook-timestamp"]))
        return intake.receive_partner(
            connection, text, payload, headers=request.headers, msg_id=msg_id, timestamp=timestamp
        )


def _partner_secrets(connection: Connection) -> list[str]:
    """The connection's inbound secrets (several during rotation), stored encrypted."""
    credentials = connection.credentials or {}
    secrets = credentials.get("webhook_secrets") or [credentials.get("webhook_secret")]
    usable = [s for s in secrets if isinstance(s, str) and s]
    if not usable:
        raise Rejected(401, "not_configured", "This connection has no webhook secret.")
    return usable


def _raw_body(request: Request) -> bytes:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    too_big = Rejected(413, "too_large", f"The body is larger than {limit} bytes.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_big
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise Rejected(415, "unsupported_media_type", "Send Content-Type: application/json.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise too_big from None
    if len(raw) > limit:
        raise too_big
    return raw


def _json_object(raw: bytes) -> tuple[str, dict[str, Any]]:
    try:
        text = raw.decode("utf-8")
        payload = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise Rejected(400, "invalid_json", "The body is not valid UTF-8 JSON.", str(exc)) from None
    if not isinstance(payload, dict):
        raise Rejected(400, "invalid_json", "The body must be a JSON object.")
    return text, payload
