"""Firing automations: a mirror change or an inbound event → one run per automation.

`fire_for_change` receives `contacts.signals.mirror_changed` inside the write path's
transaction (like the outbox): the run and its steps commit or roll back with the change, and
the first step is enqueued after commit. Nothing remote is called here.

An event fires an automation once: the run is unique per (automation, event key), the key
naming the change (record + version) or the stored inbound event (deduplicated on intake).
"""

import logging
from typing import Any

from django.db import IntegrityError, transaction

from contacts.models import Appointment, Contact, MirrorModel, Task
from portal.actors import Actor
from portal.batch_memo import memoized
from sync.automations.context import event_context, jsonable, record_context
from sync.engine.outbox import fan_out_suppressed
from sync.mapping.rules import RuleError, matches, record_values
from sync.models import (
    Automation,
    AutomationRun,
    AutomationStep,
    InboundEvent,
    Mode,
    RunStatus,
    StepStatus,
    Trigger,
)
from sync.objects import TYPE_BY_MODEL

logger = logging.getLogger(__name__)
EMPTY = (None, "", [], {})
RECORD_TRIGGERS = [t for t in Trigger.values if t != Trigger.EVENT_RECEIVED]


def fire_for_change(
    sender: type[MirrorModel],
    *,
    instance: MirrorModel,
    action: str,
    changes: dict[str, list[Any]],
    actor: Actor,
    **kwargs: Any,
) -> list[AutomationRun]:
    object_type = TYPE_BY_MODEL.get(type(instance))
    if object_type is None or fan_out_suppressed():
        return []
    candidates = memoized(
        ("record_automations", instance.workspace_id),
        lambda: list(live_automations(instance.workspace_id).filter(trigger__in=RECORD_TRIGGERS)),
    )
    runs = []
    for automation in candidates:
        if automation.object_type and automation.object_type != object_type:
            continue
        if not _from_connection(automation, actor.origin_connection_id):
            continue
        if not trigger_matches(automation, instance, action, changes):
            continue
        if not conditions_pass(automation, record_values(instance)):
            continue
        key = f"{object_type}:{instance.pk}:v{instance.version}:{action}"
        label = f"{object_type} {instance.public_id} {action}d"
        context = record_context(instance, action, changes, actor)
        run = start_run(automation, key, label, context, obj=instance)
        if run:
            runs.append(run)
    return runs


def fire_for_event(event: InboundEvent, payload: Any, contact: Contact | None = None) -> list:
    """A stored inbound event (partner webhook, e-mail delivery status) of any type."""
    if not event.workspace_id or not event.event_type:
        return []
    candidates = live_automations(event.workspace_id).filter(
        trigger=Trigger.EVENT_RECEIVED, event_type=event.event_type
    )
    runs = []
    for automation in candidates:
        if not _from_connection(automation, event.connection_id):
            continue
        context = event_context(event.event_type, payload, contact, inbound_id=event.pk)
        values = record_values(contact) if contact else {}
        if not conditions_pass(automation, {**_flat(context.get("data")), **values}):
            continue
        label = f"{event.event_type} {event.webhook_id}"[:200]
        run = start_run(automation, f"inbound:{event.pk}", label, context, obj=contact)
        if run:
            runs.append(run)
    return runs


def live_automations(workspace_id: int):
    return (
        Automation.objects.filter(workspace_id=workspace_id)
        .exclude(mode=Mode.OFF)
        .prefetch_related("actions")
    )


def _from_connection(automation: Automation, origin_connection_id: int | None) -> bool:
    wanted = automation.trigger_connection_id
    return wanted is None or wanted == origin_connection_id


def conditions_pass(automation: Automation, values: dict[str, Any]) -> bool:
    try:
        return matches(automation.conditions or {}, values)
    except RuleError as exc:
        logger.warning("Automation %s: conditions cannot be evaluated: %s", automation.pk, exc)
        return False


def _flat(data: Any) -> dict[str, Any]:
    """An event's data as condition values: top-level keys and one level of nesting dotted."""
    if not isinstance(data, dict):
        return {}
    values = dict(data)
    for key, value in data.items():
        if isinstance(value, dict):
            values.update({f"{key}.{k}": v for k, v in value.items()})
    return values


# --- which changes a trigger means -------------------------------------------------------


def trigger_matches(
    automation: Automation, obj: MirrorModel, action: str, changes: dict[str, list[Any]]
) -> bool:
    check = TRIGGER_CHECKS[automation.trigger]
    return check(automation, obj, action, changes)


def _field_changed(automation: Automation, obj, action: str, changes) -> bool:
    if action == "delete" or not automation.trigger_field:
        return False
    before, after = _field_pair(automation.trigger_field, changes)
    if before == after or (before in EMPTY and after in EMPTY):
        return False
    wanted = automation.trigger_value
    return wanted is None or (after == wanted and before != wanted)


def _field_pair(field: str, changes: dict[str, list[Any]]) -> tuple[Any, Any]:
    if field.startswith("custom_fields."):
        key = field.removeprefix("custom_fields.")
        before, after = changes.get("custom_fields", [None, None])
        return (before or {}).get(key), (after or {}).get(key)
    before, after = changes.get(field, [None, None])
    return jsonable(before), jsonable(after)


def tag_changes(changes: dict[str, list[Any]]) -> tuple[set[str], set[str]]:
    """(added, removed) tags of a contact change."""
    before, after = changes.get("tags", [None, None])
    old, new = set(before or []), set(after or [])
    return new - old, old - new


def _tag(added: bool):
    def check(automation: Automation, obj, action: str, changes) -> bool:
        if not isinstance(obj, Contact) or action == "delete":
            return False
        moved = tag_changes(changes)[0 if added else 1]
        wanted = automation.trigger_value
        return bool(moved) and (not wanted or wanted in moved)

    return check


def _appointment_status(automation: Automation, obj, action: str, changes) -> bool:
    if not isinstance(obj, Appointment) or action != "update" or "status" not in changes:
        return False
    return automation.trigger_value in (None, "", obj.status)


def _task_completed(automation: Automation, obj, action: str, changes) -> bool:
    before, after = changes.get("completed", [False, False])
    return isinstance(obj, Task) and action != "delete" and bool(after) and not before


TRIGGER_CHECKS = {
    Trigger.RECORD_CREATED: lambda a, obj, action, ch: action == "create",
    Trigger.RECORD_UPDATED: lambda a, obj, action, ch: action == "update",
    Trigger.RECORD_DELETED: lambda a, obj, action, ch: action == "delete",
    Trigger.FIELD_CHANGED: _field_changed,
    Trigger.TAG_ADDED: _tag(added=True),
    Trigger.TAG_REMOVED: _tag(added=False),
    Trigger.APPOINTMENT_BOOKED: lambda a, obj, action, ch: (
        isinstance(obj, Appointment) and action == "create"
    ),
    Trigger.APPOINTMENT_STATUS: _appointment_status,
    Trigger.TASK_COMPLETED: _task_completed,
}


# --- the run ------------------------------------------------------------------------------


def start_run(
    automation: Automation,
    event_key: str,
    label: str,
    context: dict[str, Any],
    *,
    obj: MirrorModel | None = None,
    dry_run: bool | None = None,
) -> AutomationRun | None:
    """The run and one step per action; None if this event already ran this automation."""
    dry = automation.mode == Mode.DRY_RUN if dry_run is None else dry_run
    run = AutomationRun(
        automation=automation,
        workspace_id=automation.workspace_id,
        event_key=event_key[:128],
        event_label=label[:200],
        object_type=TYPE_BY_MODEL.get(type(obj), "") if obj is not None else "",
        object_id=obj.pk if obj is not None else None,
        context=jsonable(context),
        dry_run=dry,
        status=RunStatus.RUNNING,
    )
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a duplicate leaves the caller's work intact
                run.save(force_insert=True)
        except IntegrityError:
            return None
        created = AutomationStep.objects.bulk_create(_steps(automation, run, event_key))
        if created:
            first = created[0].pk
            transaction.on_commit(lambda: _enqueue(first))
        else:
            AutomationRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE)
    return run


def _steps(automation: Automation, run: AutomationRun, event_key: str) -> list[AutomationStep]:
    actions = sorted(automation.actions.all(), key=lambda a: (a.position, a.pk))
    return [
        AutomationStep(
            run=run,
            action=action,
            position=index,
            connection_id=action.connection_id,
            operation=action.operation,
            idempotency_key=f"a{automation.pk}:{event_key}:x{action.pk}"[:160],
            status=StepStatus.PENDING if index == 1 else StepStatus.BLOCKED,
        )
        for index, action in enumerate(actions, start=1)
    ]


def _enqueue(step_id: int) -> None:
    from sync.automations.runner import enqueue_steps

    enqueue_steps([step_id])
