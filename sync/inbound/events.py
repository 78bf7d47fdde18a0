"""What a webhook delivery means, whoever sent it: one record to upsert or delete."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

UPSERT = "upsert"
DELETE = "delete"
# Records that belong to a contact: the contact must exist in the mirror first.
CHILD_TYPES = frozenset({"task", "note", "appointment"})


class EventError(ValueError):
    """A delivery that cannot be applied as sent (recorded as failed, with this message)."""


class Unresolvable(EventError):
    """A delivery lacking what we would need to fetch the rest (recorded as ignored, not failed)."""


@dataclass
class ParsedEvent:
    object_type: str
    operation: str  # UPSERT or DELETE
    remote_id: str
    payload: dict[str, Any] = field(default_factory=dict)  # the record, in the sender's shape
    contact_remote_id: str = ""  # the parent contact of a task, note or appointment
    source_updated_at: datetime | None = None  # when the change happened, by the sender's clock


def clean_text(value: Any, limit: int) -> str:
    """A string safe to store and query (no NUL, bounded); "" for anything else."""
    if not isinstance(value, str):
        return ""
    # Lone surrogates (from JSON escapes) and NUL cannot be stored by every database.
    return value.encode("utf-8", "ignore").decode("utf-8").replace("\x00", "")[:limit]


def required_id(value: Any, what: str) -> str:
    text = clean_text(value, 128)
    if not text.strip():
        raise EventError(f"The delivery carries no {what}.")
    return text
