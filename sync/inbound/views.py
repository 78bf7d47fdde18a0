"""Webhook endpoints: verify over the raw body, store, answer at once (processing is a task).

    POST /webhooks/<provider>/         a provider's own endpoint, one URL for all its
                                       connections (the CRM's, for one); its connector's
                                       hooks verify, read and route
                                       (sync/connectors/receiving.py)
    POST /webhooks/in/<slug>/          a partner connection (Standard Webhooks, or its own
                                       format and HMAC: sync/inbound/partner_formats.py)

Answers: 200 accepted or duplicate; 202 unmatched routing key or unknown event type (stored);
400 not a JSON object / not UTF-8; 401 signature or timestamp; 404 unknown connection;
413 over DATA_UPLOAD_MAX_MEMORY_SIZE; 415 not application/json; 429 (with Retry-After) more than
WEBHOOK_RATE_LIMIT deliveries from one client address to one endpoint. Errors are
{"error": {"code", "message", "details"}}, always JSON whatever the Accept header.
"""

import hashlib
import json
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from portal import throttle
from sync.connectors import webhook_receiver
from sync.inbound import intake
from sync.inbound.partner_delivery import verify_delivery
from sync.models import Connection
from sync.transport.webhook_checks import SignatureError


class Rejected(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: Any = None, retry_after: int = 0
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.retry_after = retry_after


_RENDERER = JSONRenderer()


def json_response(body: dict[str, Any], status: int) -> HttpResponse:
    """The answer as DRF's JSONRenderer writes it, rendered at once: a DRF Response would go
    through the template-response machinery (renderer, context, render at the end) on every
    delivery for these few bytes."""
    return HttpResponse(_RENDERER.render(body), status=status, content_type="application/json")


def error_response(status: int, code: str, message: str, details: Any = None) -> HttpResponse:
    return json_response({"error": {"code": code, "message": message, "details": details}}, status)


class AlwaysJSON(BaseContentNegotiation):
    """A sender's Accept header changes nothing: the answer is JSON (never HTML, never 406)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return None


class WebhookView(APIView):
    """Shared checks; each endpoint defines `receive(request, raw, **kwargs) -> Receipt`.

    A lean DRF view: no authentication, permission or DRF throttle classes (a delivery is
    proven by its signature, checked over the raw body before anything parses it; the flood
    limit is `_throttle`), no parsers (the body is read raw), one renderer, no negotiation.
    """

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    parser_classes: list = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON
    http_method_names = ["post", "options"]
    view_name = ""  # the name OPTIONS describes
    schema = None  # not part of the partner API's OpenAPI document

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Only what a webhook needs of APIView.initial: the renderer (no versioning,
        authentication, permissions or throttles to run)."""
        self.format_kwarg = None
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(
            request
        )

    def post(self, request: Request, **kwargs: Any) -> HttpResponse:
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
        return json_response(receipt.body, receipt.status_code)

    def get_view_name(self) -> str:
        return self.view_name

    def get_view_description(self, html: bool = False) -> str:
        return ""


class ProviderWebhookView(WebhookView):
    """POST /webhooks/<provider>/: the provider's connector verifies, reads and routes."""

    provider = ""  # set per URL (sync/inbound/urls.py)

    def get_view_name(self) -> str:
        return webhook_receiver(self.provider).view_name

    def receive(self, request: Request, raw: bytes, **kwargs: Any) -> intake.Receipt:
        receiver = webhook_receiver(self.provider)
        scheme = receiver.verify(raw, request.headers)
        text, payload = _json_object(raw)
        delivery = receiver.read(text, payload)
        return intake.receive_from_provider(
            self.provider, text, payload, delivery, headers=request.headers, scheme=scheme
        )


class PartnerWebhookView(WebhookView):
    view_name = "Partner Webhook"

    def receive(self, request: Request, raw: bytes, **kwargs: Any) -> intake.Receipt:
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


def _throttle(request: Request) -> None:
    """WEBHOOK_RATE_LIMIT per client address and endpoint, counted in the shared cache (told a
    batch at a time by each process: portal/throttle.py). A flood is refused before any parsing
    or signature check; the CRM retries a 429, so a genuine delivery refused here arrives again
    later instead of being lost."""
    rate = settings.WEBHOOK_RATE_LIMIT
    if not rate:
        return
    source = f"{request.META.get('REMOTE_ADDR', '')} {request.path}"
    name = "webhook:" + hashlib.sha256(source.encode()).hexdigest()[:32]
    wait = throttle.hit_in_batches(name, rate)
    if wait:
        retry_after = max(1, math.ceil(wait))
        message = f"Too many deliveries from this address; retry in {retry_after} s."
        raise Rejected(429, "rate_limited", message, {"retry_after": retry_after}, retry_after)


def _raw_body(request: Request) -> bytes:
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
