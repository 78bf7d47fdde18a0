"""Partner API endpoints that reach the CRM: its workflows (read, cached) and a courses import
(forwarded through the outbox, so a CRM outage delays it instead of losing it).

    GET  /api/v1/workflows/                 workflows.readonly
    POST /api/v1/courses/import             courses.write → 202 with the import's id
    GET  /api/v1/courses/import/{id}        courses.write → where the import stands
"""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.api.serializers import StrictCharField
from contacts.api.workspaces import target_workspace, visible_workspace_ids
from portal.idempotency import idempotent
from portal.models import Workspace
from portal.openapi import (
    IDEMPOTENCY_KEY,
    READ_ERRORS,
    WORKSPACE,
    WRITE_ERRORS,
    error_responses,
)
from sync.connectors import connector_for
from sync.engine.debounce import push_soon
from sync.models import Connection, Operation, OutboundChange
from sync.objects import COURSES_IMPORT
from sync.transport.http import RemoteError

_SIGNER = signing.Signer(salt="sync.partner_api.courses_import", sep=".")


class CrmUnavailable(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The CRM did not answer as expected; try again later."
    default_code = "crm_unavailable"


def crm_connection(workspace: Workspace) -> Connection:
    """The workspace's CRM connection (its primary one first); 404 when it has none."""
    found = (
        Connection.objects.live()
        .crm()
        .filter(workspace=workspace, active=True)
        .order_by("-primary", "id")
        .first()
    )
    if found is None:
        raise exceptions.NotFound("This workspace has no active CRM connection.")
    return found


# --- workflows ------------------------------------------------------------------------------


class WorkflowOutput(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    status = serializers.CharField(allow_blank=True, help_text="As the CRM says: draft, published")
    version = serializers.IntegerField(allow_null=True)
    created_at = serializers.CharField(allow_blank=True, help_text="The CRM's createdAt.")
    updated_at = serializers.CharField(allow_blank=True, help_text="The CRM's updatedAt.")


class WorkflowList(serializers.Serializer):
    results = WorkflowOutput(many=True)


def _workflow(item: dict[str, Any]) -> dict[str, Any]:
    version = item.get("version")
    return {
        "id": str(item.get("id") or ""),
        "name": str(item.get("name") or ""),
        "status": str(item.get("status") or ""),
        "version": int(version) if isinstance(version, int | float) else None,
        "created_at": str(item.get("createdAt") or ""),
        "updated_at": str(item.get("updatedAt") or ""),
    }


class WorkflowListView(APIView):
    scope_resource = "workflows"

    @extend_schema(
        operation_id="workflows_list",
        summary="List the CRM's workflows",
        description="The workflows of the workspace's CRM location (cached for 10 minutes). "
        "`X-Workspace` names the workspace when the key has several.",
        parameters=[WORKSPACE],
        responses={200: WorkflowList, **error_responses(*READ_ERRORS, 404, 502)},
    )
    def get(self, request: Request) -> Response:
        connector = connector_for(crm_connection(target_workspace(request)))
        try:
            items = connector.workflows()
        except RemoteError as exc:
            raise CrmUnavailable() from exc
        workflows = [_workflow(item) for item in items if isinstance(item, dict)]
        return Response({"results": [w for w in workflows if w["id"]]})


# --- courses import -------------------------------------------------------------------------

_TEXT = {"max_length": 2000}


class _Strict(serializers.Serializer):
    """Unknown fields are refused, as everywhere in the partner API."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(str(name) for name in set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


VISIBILITY = ["published", "draft"]
MATERIAL_TYPES = [
    "pdf", "image", "docx", "pptx", "xlsx", "html", "dotx", "epub", "webp", "gdoc", "mp3",
    "doc", "txt", "zip", "ppt", "key", "htm", "xls", "odp", "odt", "rtf", "m4a", "ods", "mp4",
    "ai", "avi", "mov", "wmv", "mkv", "wav", "flac", "ogg", "png", "jpeg", "jpg", "gif", "bmp",
    "tiff", "svg", "odg", "sxw", "sxc", "sxi", "rar", "7z", "json", "xml", "csv", "md", "obj",
    "stl", "woff", "ttf",
]  # fmt: skip


class CourseMaterialInput(_Strict):
    title = StrictCharField(**_TEXT)
    type = serializers.ChoiceField(MATERIAL_TYPES)
    url = StrictCharField(**_TEXT)


class CoursePostInput(_Strict):
    title = StrictCharField(**_TEXT)
    visibility = serializers.ChoiceField(VISIBILITY)
    contentType = serializers.ChoiceField(["video", "assignment", "quiz"])
    description = StrictCharField(allow_blank=True, max_length=20000)
    thumbnailUrl = StrictCharField(required=False, allow_blank=True, **_TEXT)
    bucketVideoUrl = StrictCharField(required=False, allow_blank=True, **_TEXT)
    postMaterials = CourseMaterialInput(many=True, required=False, max_length=100)


class CourseSubCategoryInput(_Strict):
    title = StrictCharField(**_TEXT)
    visibility = serializers.ChoiceField(VISIBILITY)
    thumbnailUrl = StrictCharField(required=False, allow_blank=True, **_TEXT)
    posts = CoursePostInput(many=True, required=False, max_length=500)


class CourseCategoryInput(CourseSubCategoryInput):
    subCategories = CourseSubCategoryInput(many=True, required=False, max_length=100)


class InstructorInput(_Strict):
    name = StrictCharField(**_TEXT)
    description = StrictCharField(allow_blank=True, max_length=20000)


class CourseProductInput(_Strict):
    title = StrictCharField(**_TEXT)
    description = StrictCharField(allow_blank=True, max_length=20000)
    imageUrl = StrictCharField(required=False, allow_blank=True, **_TEXT)
    categories = CourseCategoryInput(many=True, max_length=200)
    instructorDetails = InstructorInput(required=False)


class CoursesImportInput(_Strict):
    """The CRM's courses export (PublicExporterPayload, without `locationId`: the workspace's)."""

    products = CourseProductInput(many=True, min_length=1, max_length=100)
    userId = StrictCharField(required=False, max_length=64)


class CoursesImportStatus(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(
        ["pending", "in_flight", "retrying", "done", "failed", "dead"],
        help_text="pending/in_flight/retrying: on its way; done: the CRM took it; failed or "
        "dead: the CRM refused it or never answered (see last_error).",
    )
    attempts = serializers.IntegerField()
    last_error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


def _status(change: OutboundChange) -> dict[str, Any]:
    return {
        "id": _SIGNER.sign(f"ci_{change.pk}"),
        "status": change.status,
        "attempts": change.attempts,
        "last_error": change.last_error,
        "created_at": change.created_at,
        "completed_at": change.completed_at,
    }


class CoursesImportView(APIView):
    scope_resource = "courses"

    @extend_schema(
        operation_id="courses_import",
        summary="Import courses into the CRM",
        description="Forwards a courses export to the workspace's CRM through the outbox "
        "(retried while the CRM is unavailable). Answers 202 at once; read where the import "
        "stands at `/api/v1/courses/import/{id}`.",
        request=CoursesImportInput,
        parameters=[IDEMPOTENCY_KEY, WORKSPACE],
        responses={202: CoursesImportStatus, **error_responses(*WRITE_ERRORS, 404)},
    )
    def post(self, request: Request) -> Response:
        workspace = target_workspace(request)
        return idempotent(request, workspace, lambda: self._queue(request, workspace))

    def _queue(self, request: Request, workspace: Workspace) -> Response:
        payload = CoursesImportInput(data=request.data)
        payload.is_valid(raise_exception=True)
        connection = crm_connection(workspace)
        with transaction.atomic():
            change = OutboundChange.objects.create(
                connection=connection,
                object_type=COURSES_IMPORT,
                object_id=0,
                operation=Operation.ACTION,
                action={"type": COURSES_IMPORT, "payload": payload.validated_data},
                actor_label=f"API key {request.auth}"[:200],
                request_id=getattr(request, "request_id", ""),
            )
            transaction.on_commit(lambda: push_soon([change.pk]))
        return Response(_status(change), status=status.HTTP_202_ACCEPTED)


class CoursesImportStatusView(APIView):
    scope_resource = "courses"
    # Reading an import's status is part of importing (there is no courses.readonly scope).
    method_scopes = {"GET": "courses.write"}

    @extend_schema(
        operation_id="courses_import_status",
        summary="Where a courses import stands",
        responses={200: CoursesImportStatus, **error_responses(*READ_ERRORS, 404)},
    )
    def get(self, request: Request, import_id: str) -> Response:
        try:
            pk = int(_SIGNER.unsign(import_id).removeprefix("ci_"))
        except (signing.BadSignature, ValueError) as exc:
            raise exceptions.NotFound() from exc
        change = OutboundChange.objects.filter(
            pk=pk,
            object_type=COURSES_IMPORT,
            connection__workspace__in=visible_workspace_ids(request),
        ).first()
        if change is None:
            raise exceptions.NotFound()
        return Response(_status(change))


workflow_list_view = WorkflowListView.as_view()
courses_import_view = CoursesImportView.as_view()
courses_import_status_view = CoursesImportStatusView.as_view()
