"""OpenAPI documentation of the mirror viewsets."""

from drf_spectacular.utils import extend_schema, extend_schema_view

from portal.openapi import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    READ_ERRORS,
    WORKSPACE,
    WRITE_ERRORS,
    error_responses,
)


def document_mirror(noun: str, input_serializer, output_serializer, *, suffix: str = ""):
    """Summaries, request and response bodies, and error responses for a mirror viewset."""
    a = "an" if noun[0] in "aeiou" else "a"
    one = {200: output_serializer, **error_responses(*READ_ERRORS, 404)}
    written = {**error_responses(*WRITE_ERRORS, 404, 412)}
    # A nested route (/contacts/{contact_id}/…) is 404 when its contact is not there.
    nested = (404,) if suffix else ()
    return extend_schema_view(
        list=extend_schema(
            summary=f"List {noun}s{suffix}",
            responses={
                200: output_serializer(many=True),
                **error_responses(*READ_ERRORS, *nested),
            },
        ),
        retrieve=extend_schema(summary=f"Get {a} {noun}", responses=one),
        create=extend_schema(
            summary=f"Create {a} {noun}{suffix}",
            request=input_serializer,
            responses={201: output_serializer, **error_responses(*WRITE_ERRORS, *nested)},
            parameters=[IDEMPOTENCY_KEY] if suffix else [IDEMPOTENCY_KEY, WORKSPACE],
        ),
        update=extend_schema(
            summary=f"Replace {a} {noun}",
            request=input_serializer,
            responses={200: output_serializer, **written},
            parameters=[IF_MATCH],
        ),
        partial_update=extend_schema(
            summary=f"Change some fields of {a} {noun}",
            request=input_serializer,
            responses={200: output_serializer, **written},
            parameters=[IF_MATCH],
        ),
        destroy=extend_schema(
            summary=f"Delete {a} {noun} (a tombstone)",
            responses={204: None, **error_responses(*READ_ERRORS, 404, 412)},
            parameters=[IF_MATCH],
        ),
    )
