"""Conditional requests: `ETag` is an object's `version`; `If-Match` on PUT, PATCH and DELETE
makes the write happen only if the object is still at a version the caller read (else 412), so
two partners editing one object cannot silently overwrite each other."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from rest_framework.request import Request
from rest_framework.response import Response

from contacts.models import MirrorModel
from contacts.services import VersionMismatch
from portal.api_errors import PreconditionFailed

# `"3"` or `W/"3"`; a tag of another shape matches no version (RFC 9110: 412).
_TAG = re.compile(r'^(?:W/)?"(\d{1,10})"$')


def etag_of(version: int) -> str:
    return f'"{version}"'


def with_etag(response: Response, obj: MirrorModel) -> Response:
    response["ETag"] = etag_of(obj.version)
    return response


def if_match_versions(request: Request) -> frozenset[int] | None:
    """The versions `If-Match` accepts; None when absent or `*` (any current version)."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    versions = set()
    for tag in header.split(","):
        match = _TAG.match(tag.strip())
        if match:
            versions.add(int(match.group(1)))
    return frozenset(versions)


@contextmanager
def precondition_checked() -> Iterator[None]:
    try:
        yield
    except VersionMismatch as exc:
        raise PreconditionFailed(etag_of(exc.current_version)) from exc
