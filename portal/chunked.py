"""Bodies sent without a length (chunked) are refused with 411 before any view can read them.

Django reads a body only up to CONTENT_LENGTH: without one it sees an empty body, so an API
write or a webhook would be handled as if nothing had been sent (an empty contact). Every client
of the API and every webhook sender can send a length, and a proxy that buffers bodies (nginx
does by default) adds one. A request with both headers is ambiguous (request smuggling), so any
Transfer-Encoding is refused the same way. (Its own module: portal.middleware is loaded by the
logging configuration, before DRF can be imported.)
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from portal.api_errors import error_body

LENGTH_REQUIRED = "Send the body with a Content-Length header, not chunked."


class LengthRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get("HTTP_TRANSFER_ENCODING"):
            return JsonResponse(error_body("length_required", LENGTH_REQUIRED), status=411)
        return self.get_response(request)
