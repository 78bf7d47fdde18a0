"""GET /api/v1/catalog/ — the operations catalog (sync/catalog.py) as JSON.

It describes the portal, not anyone's data: any valid partner key may read it, and so may a
staff member signed in to the admin.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.authentication import ApiKeyAuthentication
from portal.models import ApiKey
from sync.catalog import catalog


class IsPartnerOrStaff(BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            return True
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not request.user.is_staff:
            raise exceptions.PermissionDenied("The catalog is for partners and staff.")
        return True


class CatalogView(APIView):
    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [IsPartnerOrStaff]

    @extend_schema(
        summary="Triggers and actions of every provider",
        description="Every event the portal can react to and every operation each connector "
        "can perform, with the scopes and fields involved. Any valid API key may read it.",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        return Response(catalog())


catalog_view = CatalogView.as_view()
