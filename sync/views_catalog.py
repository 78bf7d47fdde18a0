"""GET /api/v1/catalog/ — the operations catalog as JSON (sync/catalog.py).

Until the partner API (API-key auth) is merged, this plain view requires a signed-in staff
session; `catalog()` is the function the API view can return instead.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from sync.catalog import catalog


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "details": None}}, status=status
    )


@require_GET
def catalog_view(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return _error(401, "not_authenticated", "Sign in to the admin (staff) to read the catalog.")
    if not request.user.is_staff:
        return _error(403, "permission_denied", "The catalog is for staff.")
    return JsonResponse(catalog())
