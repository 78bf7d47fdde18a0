"""The CRM's triggers in the operations catalog (sync/catalog.py): its webhook events
(events.py, the files in tests/specs/highlevel/webhooks/) and the changes only a scheduled read
finds."""

from typing import Any

from sync.catalog import REAL_TIME, event_verb, inbound_fields, operation, polled_triggers
from sync.connectors.base import Connector
from sync.connectors.highlevel import events as highlevel_events


def crm_triggers(cls: type[Connector]) -> list[dict[str, Any]]:
    """The CRM's webhook events (real-time) and what only the poll or reconcile finds."""
    webhooks = [
        operation(
            "trigger",
            f"{spec.object_type}.{event_verb(event_type, spec.object_type)}",
            f"{spec.object_type}s.readonly",
            inbound_fields(cls.default_mappings.get(spec.object_type, [])),
            event=event_type,
            **REAL_TIME,
        )
        for event_type, spec in highlevel_events.EVENTS.items()
    ]
    return webhooks + polled_triggers(cls)
