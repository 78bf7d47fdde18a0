"""Webhook endpoints: verify over the raw body, store, answer at once (processing is a task).

    POST /webhooks/highlevel/          the CRM (x-ghl-signature Ed25519, x-wh-signature RSA)
    POST /webhooks/in/<slug>/          a partner connection (Standard Webhooks, or its own
                                       format and HMAC: sync/inbound/partner_formats.py)

Answers: 200 accepted or duplicate; 202 unmatched location or unknown event type (stored);
400 not a JSON object / not UTF-8; 401 signature or timestamp; 404 unknown connection;
413 over DATA_UPLOAD_MAX_MEMORY_SIZE; 415 not application/json; 429 (with Retry-After) more than
WEBHOOK_RATE_LIMIT deliveries from one client address to one endpoint. Errors are
{"error": {"code", "message", "details"}}.
"""

import hashlib
import json
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework.renderers import JSONRenderer

from portal import throttle
from sync.connectors.highlevel.signatures import verify as verify_highlevel
from sync.inbound import intake
from sync.inbound.partner_delivery import verify_delivery
from sync.models import Connection
from sync.transport.webhook_checks import SignatureError, check_timestamp, parse_timestamp

# The same bytes DRF's JSON renderer writes (the endpoints were DRF views; answers are kept).
_JSON = JSONRenderer()
ALLOWED_METHODS = "POST, OPTIONS"


class Rejected(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: Any = None, retry_after: int = 0
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.retry_after = retry_after


def json_response(body: dict[str, Any], status: int) -> HttpResponse:
    response = HttpResponse(_JSON.render(body), status=status, content_type="application/json")
    response["Allow"] = ALLOWED_METHODS
    return response


def error_response(status: int, code: str, message: str, details: Any = None) -> HttpResponse:
    return json_response(
        {"error": {"code": code, "message": message, "details": details}}, status=status
    )


@method_decorator(csrf_exempt, name="dispatch")
class WebhookView(View):
    """Shared checks; each endpoint defines `receive(request, raw, **kwargs) -> Receipt`.

    A plain Django view, not DRF's APIView: a webhook needs none of its authentication,
    negotiation or parsing, and skipping them is a measurable share of a delivery's CPU time.
    """

    http_method_names = ["post", "options"]
    view_name = ""  # the name OPTIONS describes

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            _throttle(request)
            receipt = self.receive(request, _raw_body(request), **kwargs)
        except Rejected as exc:
            response = error_response(exc.status, exc.code, exc.message, exc.details)
            if exc.retry_after:
                response["Retry-After"] = str(exc.retry_after)
            return response
        except SignatureError as exc:
            return error_response(401, exc.code, exc.message)
        return json_response(receipt.body, status=receipt.status_code)

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        described = {"name": self.view_name, "description": "", "renders": ["application/json"]}
        return json_response(described | {"parses": []}, status=200)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any):
        message = f'Method "{request.method}" not allowed.'
        return error_response(405, "method_not_allowed", message)


class HighLevelWebhookView(WebhookView):
    view_name = "High Level Webhook"

    def receive(self, request: HttpRequest, raw: bytes, **kwargs: Any) -> intake.Receipt:
        scheme = verify_highlevel(raw, request.headers)
        text, payload = _json_object(raw)
        timestamp = parse_timestamp(payload.get("timestamp"))
        check_timestamp(timestamp)
        return intake.receive_highlevel(
            text, payload, headers=request.headers, scheme=scheme, timestamp=timestamp
        )


class PartnerWebhookView(WebhookView):
    view_name = "Partner Webhook"

    def receive(self, request: HttpRequest, raw: bytes, **kwargs: Any) -> intake.Receipt:
        connection = Connection.objects.live().filter(slug=kwargs["slug"], active=True).first()
        if connection is None:
            raise Rejected(404, "not_found", "No active connection with this slug.")
        verified = verify_delivery(connection, request.headers, raw)  # its own scheme
        text, payload = _json_object(raw)
        return intake.receive_partner(
            connection,
            text,
            payload,
            headers=request.headers,
            msg_id=verified.msg_id,
            timestamp=verified.timestamp,
            scheme=verified.scheme,
        )


def _throttle(request: HttpRequest) -> None:
    """WEBHOOK_RATE_LIMIT per client address and endpoint, counted in the shared cache. A flood
    is refused before any parsing or signature check; the CRM retries a 429, so a genuine
    delivery refused here arrives again later instead of being lost."""
    rate = settings.WEBHOOK_RATE_LIMIT
    if not rate:
        return
    source = f"{request.META.get('REMOTE_ADDR', '')} {request.path}"
    name = "webhook:" + hashlib.sha256(source.encode()).hexdigest()[:32]
    wait = throttle.hit(name, rate)
    if wait:
        retry_after = max(1, math.ceil(wait))
        message = f"Too many deliveries from this address; retry in {retry_after} s."
        raise Rejected(429, "rate_limited", message, {"retry_after": retry_after}, retry_after)


def _raw_body(request: HttpRequest) -> bytes:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    too_big = Rejected(413, "too_large", f"The body is larger than {limit} bytes.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_big
    meta = request.META
    content_type = meta.get("CONTENT_TYPE", meta.get("HTTP_CONTENT_TYPE", ""))
    content_type = content_type.split(";")[0].strip().lower()
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
