"""Retention: delete old logs in batches (short transactions, no long table locks).

Pruned: delivery attempts; finished outbox rows (done / coalesced — failed and dead rows stay
until replayed or resolved); finished backfill runs; processed inbound events when an
`InboundEvent` model is installed (looked up in the app registry, so this module does not
depend on the webhooks code; processed, ignored and echo events — failed and unmatched ones
stay). Audit entries are kept unless `include_audit` is given: they are
the record of who changed what, usually kept for longer (or forever) by policy.

Tombstones (deleted mirror rows, erased contacts included) older than their own retention
(`TOMBSTONE_RETENTION_DAYS`) are deleted with their links and outbox rows, children first; one
whose delete is still waiting to reach a connection stays until it has.
"""

from datetime import timedelta

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone

from contacts.erasure import purge_tombstones
from ops.models import BackfillRun, RunStatus
from portal.models import AuditEntry
from sync.models import WAITING, ChangeStatus, DeliveryAttempt, Link, OutboundChange
from sync.objects import mirror_model

BATCH = 5000
# Inbound event states that need no more attention (failed / unmatched ones are kept).
FINISHED_INBOUND = ("processed", "ignored", "echo")


def prune(older_than: timedelta, *, include_audit: bool = False) -> dict[str, int]:
    """Rows deleted per kind."""
    cutoff = timezone.now() - older_than
    querysets = {
        "delivery attempts": DeliveryAttempt.objects.filter(created_at__lt=cutoff),
        "finished outbox rows": OutboundChange.objects.filter(
            status__in=[ChangeStatus.DONE, ChangeStatus.COALESCED], updated_at__lt=cutoff
        ),
        "finished backfill runs": BackfillRun.objects.filter(
            status__in=[RunStatus.DONE, RunStatus.ABANDONED], updated_at__lt=cutoff
        ),
    }
    inbound = processed_inbound_events(cutoff)
    if inbound is not None:
        querysets["processed inbound events"] = inbound
    if include_audit:
        querysets["audit entries"] = AuditEntry.objects.filter(created_at__lt=cutoff)
    return {label: delete_in_batches(qs) for label, qs in querysets.items()}


# Children before their contact (a contact's tasks, notes and appointments protect it).
TOMBSTONE_ORDER = ("appointment", "note", "task", "contact", "user")


def prune_tombstones(older_than: timedelta) -> dict[str, int]:
    """Tombstones deleted per object type."""
    cutoff = timezone.now() - older_than
    return {f"{t} tombstones": _prune_type(t, cutoff) for t in TOMBSTONE_ORDER}


def _prune_type(object_type: str, cutoff) -> int:
    model = mirror_model(object_type)
    waiting = OutboundChange.objects.filter(object_type=object_type, status__in=WAITING)
    tombstones = model.objects.filter(deleted_at__lt=cutoff).exclude(
        pk__in=waiting.values("object_id")
    )
    if object_type == "contact":
        tombstones = tombstones.filter(
            tasks__isnull=True, notes__isnull=True, appointments__isnull=True
        )
    deleted = 0
    while ids := list(tombstones.values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            Link.objects.filter(object_type=object_type, object_id__in=ids).delete()
            OutboundChange.objects.filter(object_type=object_type, object_id__in=ids).delete()
            deleted += purge_tombstones(model, ids)
    return deleted


def processed_inbound_events(cutoff) -> models.QuerySet | None:
    """Processed InboundEvent rows older than `cutoff`, if such a model is installed."""
    model = next((m for m in apps.get_models() if m.__name__ == "InboundEvent"), None)
    if model is None:
        return None
    names = {f.name for f in model._meta.concrete_fields}
    date_field = next(
        (n for n in ("received_at", "created_at", "processed_at") if n in names), None
    )
    if date_field is None or "status" not in names:
        return None
    choices = {value for value, _label in model._meta.get_field("status").choices or []}
    finished = [s for s in FINISHED_INBOUND if s in choices] or ["processed"]
    return model.objects.filter(status__in=finished, **{f"{date_field}__lt": cutoff})


def delete_in_batches(queryset: models.QuerySet) -> int:
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return deleted
        queryset.model.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
