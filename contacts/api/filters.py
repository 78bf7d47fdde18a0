"""List filters: updated_since, email, tag, contact, business, include_deleted.

Without `updated_since` or `include_deleted=true` only live objects are listed. With
`updated_since`, tombstones changed since then are listed too (with `deleted_at`), so a partner
can sync deletions.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend

from contacts.normalize import email_key, normalize_email

PAGINATION_PARAMS = {"cursor", "limit"}


class ListQuery(serializers.Serializer):
    updated_since = serializers.DateTimeField(required=False)
    email = serializers.CharField(required=False, max_length=254)
    tag = serializers.CharField(required=False, max_length=100)
    contact = serializers.CharField(required=False, max_length=32)
    business = serializers.CharField(required=False, max_length=64)
    include_deleted = serializers.BooleanField(required=False, default=False)

    def validate_email(self, value: str) -> str:
        try:
            return email_key(normalize_email(value))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


_DESCRIPTIONS = {
    "updated_since": "ISO 8601 time: objects changed at or after it, tombstones included.",
    "email": "Objects with this e-mail (case-insensitive).",
    "tag": "Contacts carrying this tag (exact match).",
    "contact": "Objects of this contact (public id `ct_…`).",
    "business": "Contacts of this CRM business (its `business_id`).",
    "include_deleted": "Also list deleted objects (with `deleted_at`).",
}


def has_tag(tag: str) -> Q:
    """Membership in the `tags` JSON list, on PostgreSQL (jsonb @>) and SQLite (json_each)."""
    if connection.vendor == "postgresql":
        return Q(tags__contains=[tag])
    exists = RawSQL(
        "EXISTS (SELECT 1 FROM json_each(contacts_contact.tags) WHERE json_each.value = %s)",
        [tag],
        output_field=BooleanField(),
    )
    return Q(exists)


class MirrorFilterBackend(BaseFilterBackend):
    """Applies the filters a view lists in `filter_names`; unknown query parameters are 400."""

    def filter_queryset(self, request, queryset: QuerySet, view) -> QuerySet:
        allowed = set(view.filter_names) | PAGINATION_PARAMS
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
        # An empty value is a mistake (`?updated_since=`), not "no filter": say so.
        empty = sorted(name for name, value in request.query_params.items() if value == "")
        if empty:
            raise ValidationError({name: ["May not be empty."] for name in empty})
        query = ListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return _apply(queryset, query.validated_data)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        if getattr(view, "action", None) != "list":
            return []
        types = {"updated_since": {"type": "string", "format": "date-time"}}
        types["include_deleted"] = {"type": "boolean"}
        return [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": _DESCRIPTIONS[name],
                "schema": types.get(name, {"type": "string"}),
            }
            for name in view.filter_names
        ]


def _apply(queryset: QuerySet, params: dict) -> QuerySet:
    if "updated_since" in params:
        queryset = queryset.filter(updated_at__gte=params["updated_since"])
    elif not params["include_deleted"]:
        queryset = queryset.filter(deleted_at__isnull=True)
    if "email" in params:
        queryset = queryset.filter(email_key=params["email"])
    if "tag" in params:
        queryset = queryset.filter(has_tag(params["tag"]))
    if "contact" in params:
        queryset = queryset.filter(contact__public_id=params["contact"])
    if "business" in params:
        queryset = queryset.filter(business_id=params["business"])
    return queryset
