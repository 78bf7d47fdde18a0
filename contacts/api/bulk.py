"""POST /api/v1/contacts/bulk/: up to 1,000 contacts, upserted by external_id or e-mail.

Each item is validated and written on its own, so one bad item does not stop the others; the
answer lists a result per item, in the order given.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.api.serializers import BulkContactsInput, BulkOutput, ContactInput
from contacts.api.views import api_actor
from contacts.api.workspaces import target_workspace
from contacts.services import BulkItemResult, contact_bulk_upsert
from portal.idempotency import idempotent
from portal.models import Workspace
from portal.openapi import IDEMPOTENCY_KEY, WORKSPACE, WRITE_ERRORS, error_responses


class ContactBulkView(APIView):
    scope_resource = "contacts"

    @extend_schema(
        operation_id="contacts_bulk_upsert",
        request=BulkContactsInput,
        responses={200: BulkOutput, **error_responses(*WRITE_ERRORS)},
        parameters=[IDEMPOTENCY_KEY, WORKSPACE],
        description=(
            "Upsert up to 1,000 contacts: an item with `external_id` updates the contact with "
            "that id (or else one with its e-mail and no external id); an item with only an "
            "e-mail updates the contact with that e-mail; anything else is created. Partial "
            "success: each item has its own result."
        ),
    )
    def post(self, request: Request) -> Response:
        workspace = target_workspace(request)
        return idempotent(request, workspace, lambda: self._upsert(request, workspace))

    def _upsert(self, request: Request, workspace: Workspace) -> Response:
        envelope = BulkContactsInput(data=request.data)
        envelope.is_valid(raise_exception=True)
        results: dict[int, dict[str, Any]] = {}
        valid: list[tuple[int, dict[str, Any]]] = []
        # One serializer validates every item: building its fields a thousand times would
        # cost more than the writes.
        validator = ContactInput(context={"workspace": workspace})
        for index, item in enumerate(envelope.validated_data["contacts"]):
            try:
                valid.append((index, dict(validator.run_validation(item))))
            except ValidationError as exc:
                results[index] = _result(index, BulkItemResult("error", errors=_by_field(exc)))
        outcomes = contact_bulk_upsert(
            workspace=workspace, actor=api_actor(request), items=[data for _, data in valid]
        )
        for (index, _), outcome in zip(valid, outcomes, strict=True):
            results[index] = _result(index, outcome)
        ordered = [results[index] for index in sorted(results)]
        return Response(_summary(ordered))


def _by_field(exc: ValidationError) -> dict[str, Any]:
    """Item errors by field, as documented; an item that is no object has item-wide ones."""
    detail = exc.detail
    return detail if isinstance(detail, dict) else {"non_field_errors": detail}


def _result(index: int, outcome: BulkItemResult) -> dict[str, Any]:
    return {
        "index": index,
        "status": outcome.status,
        "id": outcome.contact.public_id if outcome.contact else None,
        "errors": outcome.errors,
    }


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    count = {status: 0 for status in ("created", "updated", "unchanged", "error")}
    for result in results:
        count[result["status"]] += 1
    return {
        "results": results,
        "created": count["created"],
        "updated": count["updated"],
        "unchanged": count["unchanged"],
        "failed": count["error"],
    }
