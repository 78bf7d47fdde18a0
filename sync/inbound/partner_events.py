"""Partner webhooks: `{"type": "contact.updated", "data": {...}}` in the partner API's shape.

`type` is `<object>.<created|updated|deleted>` for user, contact, task, note and appointment.
`data` uses the mirror's field names (as the partner REST API does); `id` is either our public
id (`ct_…`) or the partner's own id, which is then kept in a Link; related records (`contact`,
`assigned_user`, `author`) are named by our public ids. `updated_at` (ISO 8601), when present,
is the change's time; otherwise the delivery's `webhook-timestamp`.
"""

from datetime import datetime
from typing import Any

from sync.inbound.events import DELETE, UPSERT, EventError, ParsedEvent, clean_text, required_id
from sync.objects import ObjectType
from sync.transport.webhook_checks import parse_timestamp

OPERATIONS = {"created": UPSERT, "updated": UPSERT, "deleted": DELETE}
EVENTS: dict[str, tuple[str, str]] = {
    f"{object_type}.{verb}": (object_type, operation)
    for object_type in ObjectType.values
    for verb, operation in OPERATIONS.items()
}


def parse(payload: dict[str, Any], delivered_at: datetime | None) -> ParsedEvent:
    event_type = payload.get("type")
    kind = EVENTS.get(event_type) if isinstance(event_type, str) else None
    if kind is None:
        raise EventError(f"Unknown event type {event_type!r}.")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise EventError("The delivery carries no data object.")
    object_type, operation = kind
    return ParsedEvent(
        object_type=object_type,
        operation=operation,
        remote_id=required_id(data.get("id"), "data.id"),
        payload=data,
        contact_remote_id=clean_text(data.get("contact"), 128),
        source_updated_at=parse_timestamp(data.get("updated_at")) or delivered_at,
    )
