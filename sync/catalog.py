"""The operations catalog: every trigger and action of every provider, from the registry.

    catalog() -> {"providers": [{"provider", "label", "triggers": [...], "actions": [...]}]}

A trigger is an event the portal can react to (a change a provider tells us about); an action
is an operation a connector performs remotely. Each names the partner-API scope that governs
the same data and its fields (remote ← mirror). A connector can refine its entry with the
classmethods `catalog_actions()` / `catalog_triggers()`; actions come by default from its
`default_mappings` and the push hooks it implements.

Triggers list only what a provider really emits, each with its `mode`: "real-time" (a webhook,
or the portal's own change event) or "polled" (found by a scheduled read, every
`interval_seconds`). Each connector lists its own (`catalog_triggers`): the CRM its webhook
events plus what only a scheduled read finds, a REST partner the partner webhook events it may
send to /webhooks/in/<slug>/; the outbound-only providers (e-mail API, notification platform,
outbound webhooks) emit none.
"""

import re
from typing import Any

from sync.connectors import CONNECTORS, connector_class
from sync.connectors.base import Connector
from sync.inbound import partner_events
from sync.mapping.specs import FieldSpec
from sync.models import Rule
from sync.objects import ObjectType, mirror_model

VERBS = {"create_remote": "create", "update_remote": "update", "delete_remote": "delete"}
EVENT_VERBS = ("created", "updated", "deleted")
REAL_TIME = {"mode": "real-time", "interval_seconds": None}
DAY = 86_400
# Changes no webhook reported: what the periodic poll reads by change time (a connector's
# incremental types) and what the reconcile compares (every type it can list), at each one's
# default interval (per connection: Connection.poll_interval_minutes / reconcile_interval_hours).
POLL_SECONDS = 5 * 60
RECONCILE_SECONDS = DAY


def catalog() -> dict[str, Any]:
    entries = [provider_entry(key, label) for key, (label, _) in CONNECTORS.items()]
    return {"providers": [portal_entry(), *entries]}


def portal_entry() -> dict[str, Any]:
    """The portal's own triggers: mirror changes from any source (API, admin, webhooks) —
    what rules and outbound webhook subscriptions react to."""
    triggers = [
        operation(
            "trigger", f"{object_type}.{verb}", f"{object_type}s.readonly", fields, **REAL_TIME
        )
        for object_type in ObjectType.values
        for fields in [mirror_fields(object_type)]
        for verb in EVENT_VERBS
    ]
    return {
        "provider": "portal",
        "label": "Portal (mirror changes)",
        "triggers": triggers,
        "actions": [],
    }


def mirror_fields(object_type: str) -> list[str]:
    model = mirror_model(object_type)
    return [f.name for f in model._meta.concrete_fields if f.name not in ("id", "workspace")]


def provider_entry(provider: str, label: str) -> dict[str, Any]:
    cls = connector_class(provider)
    actions = getattr(cls, "catalog_actions", None)
    triggers = getattr(cls, "catalog_triggers", None)
    from sync.automations.actions import catalog_entries

    return {
        "provider": provider,
        "label": label,
        "capabilities": capabilities(cls),
        "triggers": triggers() if triggers else [],
        "actions": actions() if actions else default_actions(cls),
        "automation_actions": catalog_entries(provider),
    }


def capabilities(cls: type[Connector]) -> dict[str, Any]:
    """What the connector declares it can do, in both directions (sync/connectors/base.py)."""
    return {
        "push": [verb for hook, verb in VERBS.items() if _implements(cls, hook)],
        "webhook_endpoint": f"/webhooks/{cls.provider}/" if cls.webhooks else None,
        "lists": _reads(cls, "listable_types"),
        "lists_changed_since": _reads(cls, "incremental_types"),
        "lists_per_contact": _reads(cls, "per_contact_types"),
        "reads_one": _implements(cls, "fetch_record"),
    }


def _implements(cls: type[Connector], hook: str) -> bool:
    return getattr(cls, hook) is not getattr(Connector, hook)


def _reads(cls: type[Connector], name: str) -> list[str] | str:
    declared = getattr(cls, name)
    if isinstance(declared, property):  # computed from each connection's configuration
        return "per connection"
    return sorted(declared)


def operation(kind: str, name: str, scope: str, fields: list[str], **extra: Any) -> dict:
    return {"kind": kind, "name": name, "scopes": [scope], "fields": fields, **extra}


def default_actions(cls: type[Connector]) -> list[dict[str, Any]]:
    implemented = [verb for hook, verb in VERBS.items() if _implements(cls, hook)]
    entries = [
        operation("action", f"{object_type}.{verb}", f"{object_type}s.write", fields)
        for object_type, specs in cls.default_mappings.items()
        for fields in [[f"{s.remote_path} ← {s.mirror_field}" for s in specs if s.outbound]]
        for verb in implemented
    ]
    if cls.run_action is not Connector.run_action:
        entries += [
            operation("action", f"rule.{value}", "contacts.write", ["argument"], label=str(label))
            for value, label in Rule.Action.choices
            if value
        ]
    return entries


def inbound_fields(specs: list[FieldSpec]) -> list[str]:
    return [f"{s.mirror_field} ← {s.remote_path}" for s in specs if s.inbound]


def polled_triggers(cls: type[Connector]) -> list[dict[str, Any]]:
    """Changes no webhook reported: read by the poll (by change time) or the reconcile."""
    reconciled = cls.listable_types | cls.per_contact_types
    triggers = []
    for object_type in ObjectType.values:
        if object_type in cls.incremental_types:
            interval, by = POLL_SECONDS, "the poll (every 5 minutes by default)"
        elif object_type in reconciled:
            interval, by = RECONCILE_SECONDS, "the reconcile (daily by default)"
        else:
            continue
        triggers.append(
            operation(
                "trigger",
                f"{object_type}.changed",
                f"{object_type}s.readonly",
                inbound_fields(cls.default_mappings.get(object_type, [])),
                mode="polled",
                interval_seconds=interval,
                label=f"Changes no webhook reported, found by {by}",
            )
        )
    return triggers


def event_verb(event_type: str, object_type: str) -> str:
    """ "ContactCreate" → "created", "TaskComplete" → "completed", "ContactTagUpdate" →
    "tag_updated"."""
    rest = event_type.removeprefix(object_type.capitalize())
    words = re.findall(r"[A-Z][a-z]*", rest)
    last = words[-1].lower() if words else "changed"
    verb = last + ("d" if last.endswith("e") else "ed")
    return "_".join([*(w.lower() for w in words[:-1]), verb])


def partner_triggers() -> list[dict[str, Any]]:
    """Partner webhook events (the partner API's shape) a REST partner may send us."""
    return [
        operation(
            "trigger",
            event_type,
            f"{object_type}s.readonly",
            mirror_fields(object_type),
            event=event_type,
            **REAL_TIME,
        )
        for event_type, (object_type, _operation) in partner_events.EVENTS.items()
    ]
