"""Keyset pagination on the immutable integer id (index `(workspace, id)`).

The id never changes, so a listing returns each matching row exactly once even while rows are
updated between pages (an offset would skip or repeat, and an `(updated_at, id)` order would
move an updated row behind the cursor to be returned again). Rows updated after a sync pass
began are returned again by the next pass: every page carries `next_updated_since`, the time the
pass began minus API_SYNC_LAG_SECONDS (so transactions still open then are not skipped).
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_SALT = "contacts.api.cursor"


class PageQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    cursor = serializers.CharField(required=False, max_length=500)


class KeysetPagination(BasePagination):
    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list[Any]:
        query = PageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.listing = _listing(request)
        after, self.sync_from = _decode(query.validated_data.get("cursor"), self.listing)
        limit = query.validated_data["limit"]
        rows = list(queryset.filter(id__gt=after).order_by("id")[: limit + 1])
        page = rows[:limit]
        # The last id is kept, not the page: this paginator belongs to the view, which refers
        # to its request and back (DRF), so what it holds waits for the cyclic garbage collector.
        self.last_id = page[-1].id if len(rows) > limit else None
        self.request = request
        return page

    def get_paginated_response(self, data: list[Any]) -> Response:
        next_cursor = None
        if self.last_id is not None:
            next_cursor = _encode(self.last_id, self.sync_from, self.listing)
        next_url = None
        if next_cursor:
            url = self.request.build_absolute_uri()
            next_url = replace_query_param(url, "cursor", next_cursor)
        return Response(
            {
                "results": data,
                "next": next_url,
                "next_cursor": next_cursor,
                "next_updated_since": _iso(self.sync_from),
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "next", "next_cursor", "next_updated_since"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True},
                "next_cursor": {"type": "string", "nullable": True},
                "next_updated_since": {
                    "type": "string",
                    "format": "date-time",
                    "description": "Pass as `updated_since` to the next sync, after the last page.",
                },
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "`next_cursor` of the previous page.",
                "schema": {"type": "string"},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": f"Page size, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
        ]


def _iso(moment: datetime.datetime) -> str:
    """UTC with a `Z`: safe to paste into a query string (a `+00:00` would need escaping)."""
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _listing(request: Request) -> str:
    """What a cursor belongs to: the endpoint and its filters (not the page size), hashed."""
    filters = sorted(
        (name, value)
        for name, values in request.query_params.lists()
        for value in values
        if name not in ("cursor", "limit")
    )
    text = f"{request.path}?{urlencode(filters)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode(after: int, sync_from: datetime.datetime, listing: str) -> str:
    payload = {"a": after, "s": sync_from.isoformat(), "l": listing}
    return signing.dumps(payload, salt=_SALT, compress=True)


def _decode(cursor: str | None, listing: str) -> tuple[int, datetime.datetime]:
    """A signed cursor, valid only for the listing (endpoint and filters) that issued it."""
    if not cursor:
        lag = datetime.timedelta(seconds=settings.API_SYNC_LAG_SECONDS)
        return 0, timezone.now() - lag
    try:
        payload = signing.loads(cursor, salt=_SALT)
        after, sync_from = int(payload["a"]), datetime.datetime.fromisoformat(payload["s"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise ValidationError({"cursor": ["Invalid cursor."]}) from exc
    if payload.get("l") != listing:
        message = "This cursor belongs to another listing (endpoint or filters); start over."
        raise ValidationError({"cursor": [message]})
    return after, sync_from
