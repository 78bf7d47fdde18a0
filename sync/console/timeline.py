"""One mirror record's history: audit changes, inbound events, outbox rows and delivery
attempts in time order, and, per connection, whether the record goes there and why not.

Every query is by the record's key (indexes obx_object, att change_id, inbound_object,
link_object, the audit trail's (object_type, object_id)) and capped at TIMELINE_LIMIT rows.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.urls import reverse

from contacts.models import MirrorModel
from portal.actors import ActorKind
from portal.models import AuditEntry
from sync.mapping.rules import RuleError, matches, record_values
from sync.models import Connection, DeliveryAttempt, InboundEvent, Link, OutboundChange, Rule
from sync.objects import object_type_of

TIMELINE_LIMIT = 200


@dataclass
class Entry:
    at: datetime
    kind: str  # audit | inbound | outbox | delivery | automation
    title: str
    status: str = ""
    url: str = ""
    connection: str = ""
    detail: str = ""
    diff: list[tuple[str, Any, Any]] = field(default_factory=list)


@dataclass
class Route:
    connection: Connection
    verdict: str  # sent | pending | failed | excluded | not sent
    reason: str
    remote_id: str = ""
    url: str = ""


def _admin_url(obj: Any) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def audit_entries(obj: MirrorModel) -> list[Entry]:
    rows = AuditEntry.objects.filter(
        object_type=obj._meta.label_lower, object_id=obj.public_id
    ).order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    return [
        Entry(row.created_at, "audit", f"{row.get_action_display()} by {row.actor_label}",
              status=row.action, url=_admin_url(row), detail=f"source: {row.source or '-'}",
              diff=[(name, pair[0], pair[1]) for name, pair in (row.changes or {}).items()])
        for row in rows
    ]  # fmt: skip


def _changes(obj: MirrorModel) -> list[OutboundChange]:
    return list(
        OutboundChange.objects.filter(object_type=object_type_of(obj), object_id=obj.pk)
        .select_related("connection")
        .defer("connection__credentials")
        .order_by("-id")[:TIMELINE_LIMIT]
    )


def outbox_entries(changes: list[OutboundChange]) -> list[Entry]:
    return [
        Entry(change.created_at, "outbox",
              f"Queued for {change.connection.name} ({change.audit_action or change.operation})",
              status=change.status, url=_admin_url(change), connection=change.connection.name,
              detail=change.last_error or f"{change.get_status_display()}, "
              f"{change.attempts} attempt(s)")
        for change in changes
    ]  # fmt: skip


def delivery_entries(changes: list[OutboundChange]) -> list[Entry]:
    attempts = (
        DeliveryAttempt.objects.filter(change__in=[c.pk for c in changes])
        .select_related("connection")
        .defer("connection__credentials")
        .order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    )
    return [
        Entry(a.created_at, "delivery", f"{a.method} {a.path}", status=a.outcome,
              url=_admin_url(a), connection=a.connection.name,
              detail=a.error or (f"HTTP {a.status_code}, {a.duration_ms} ms" if a.status_code
                                 else a.get_outcome_display()))
        for a in attempts
    ]  # fmt: skip


def _links(obj: MirrorModel) -> list[Link]:
    return list(Link.objects.filter(object_type=object_type_of(obj), object_id=obj.pk))


def inbound_entries(obj: MirrorModel, links: list[Link]) -> list[Entry]:
    remote_ids = {obj.public_id, *(link.remote_id for link in links if link.remote_id)}
    events = (
        InboundEvent.objects.filter(object_type=object_type_of(obj), remote_id__in=remote_ids)
        .filter(connection__workspace_id=obj.workspace_id)  # another workspace's ids may clash
        .select_related("connection")
        .defer("connection__credentials")
        .order_by("-received_at", "-id")[:TIMELINE_LIMIT]
    )
    return [
        Entry(e.received_at, "inbound", f"Webhook {e.event_type}", status=e.status,
              url=_admin_url(e), connection=e.connection.name if e.connection else "",
              detail=e.error or e.result)
        for e in events
    ]  # fmt: skip


def timeline(obj: MirrorModel) -> tuple[list[Entry], list[Route]]:
    from sync.automations.timeline import automation_entries

    changes, links = _changes(obj), _links(obj)
    entries = [*audit_entries(obj), *outbox_entries(changes), *delivery_entries(changes),
               *inbound_entries(obj, links), *automation_entries(obj, Entry)]  # fmt: skip
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries, routes(obj, changes, links)


# --- where the record goes, and why not ----------------------------------------------------


def _failing_filter(connection: Connection, object_type: str, values: dict) -> str:
    for rule in connection.rules.all():
        if not rule.active or rule.object_type != object_type or rule.kind != Rule.Kind.FILTER:
            continue
        try:
            if not matches(rule.conditions, values):
                return f"excluded by filter rule “{rule.name}”"
        except RuleError as exc:
            return f"filter rule “{rule.name}” cannot be evaluated: {exc}"
    return ""


def _last_origin(obj: MirrorModel) -> str:
    latest = (
        AuditEntry.objects.filter(object_type=obj._meta.label_lower, object_id=obj.public_id)
        .order_by("-created_at", "-id")
        .values_list("actor_kind", "actor_id")
        .first()
    )
    return latest[1] if latest and latest[0] == ActorKind.CONNECTION else ""


def _verdict(connection, object_type, values, latest, failure, origin) -> tuple[str, str]:
    if not connection.active:
        return "excluded", "the connection is inactive"
    if not connection.sends(object_type):
        return "excluded", f"{object_type}s direction is “{connection.direction(object_type)}”"
    excluded = _failing_filter(connection, object_type, values)
    if excluded:
        return "excluded", excluded
    if latest is None:
        if origin == str(connection.pk):
            return "not sent", "the change came from this connection (never sent back)"
        return "not sent", "no change queued for it yet"
    if latest.status == "done":
        finished = latest.completed_at or latest.updated_at
        return "sent", f"last push done {finished:%Y-%m-%d %H:%M:%S}"
    if latest.status in ("failed", "dead"):
        return "failed", latest.last_error or latest.get_status_display()
    waiting = f"{latest.get_status_display()}: {latest.last_error or 'waiting'}"
    if failure is not None and failure.pk != latest.pk:
        waiting += f" (an earlier push failed: {failure.last_error})"
    return "pending", waiting


def routes(obj: MirrorModel, changes: list[OutboundChange], links: list[Link]) -> list[Route]:
    object_type, values, origin = object_type_of(obj), record_values(obj), _last_origin(obj)
    latest: dict[int, OutboundChange] = {}
    failures: dict[int, OutboundChange] = {}
    for change in changes:  # newest first
        if change.operation == "sync" and change.status != "coalesced":
            latest.setdefault(change.connection_id, change)
        if change.status in ("failed", "dead"):
            failures.setdefault(change.connection_id, change)
    remote = {link.connection_id: link.remote_id for link in links}
    connections = (
        Connection.objects.live().filter(workspace_id=obj.workspace_id)
        .defer("credentials").prefetch_related("rules").order_by("name")
    )  # fmt: skip
    result = []
    for connection in connections:
        change = latest.get(connection.pk)
        failure = failures.get(connection.pk)
        verdict, reason = _verdict(connection, object_type, values, change, failure, origin)
        result.append(Route(connection, verdict, reason, remote.get(connection.pk, ""),
                            _admin_url(change) if change else ""))  # fmt: skip
    return result
