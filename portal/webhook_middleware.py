"""Webhook deliveries skip the middleware that only pages need.

A delivery is a program's POST, proven by its signature. Sessions, authentication, two-factor,
login lockout, CSRF, messages, the pages' Content-Security-Policy and static files do nothing for
it, yet they ran on every delivery: about 240 µs of the 850 µs a delivery cost its web process
(BENCHMARKS.md, "Round 10"). The first entry of MIDDLEWARE hands every request under /webhooks/
to a chain of WEBHOOK_MIDDLEWARE instead (security headers, request ids, the length check, JSON
errors, Content-Length); every other request goes on through MIDDLEWARE as before.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from portal.middleware import WEBHOOK_PREFIX


class WebhookPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.webhooks = MiddlewareChain(settings.WEBHOOK_MIDDLEWARE)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(WEBHOOK_PREFIX):
            return self.webhooks(request)
        return self.get_response(request)


class MiddlewareChain(BaseHandler):
    """Django's handling of a request (URL resolution, the view, view and exception middleware,
    deferred rendering) behind a middleware list of its own.

    The loop is BaseHandler.load_middleware's, which only reads settings.MIDDLEWARE; this one
    takes the list it is given, synchronous middleware only (the web processes are gunicorn's
    sync workers). Look again when upgrading Django."""

    def __init__(self, middleware: list[str]) -> None:
        self._view_middleware: list = []
        self._template_response_middleware: list = []
        self._exception_middleware: list = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(middleware):
            instance = import_string(path)(handler)
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self._middleware_chain(request)
