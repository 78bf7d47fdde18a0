"""The sync side of erasing a contact (receiver of contacts.signals.contact_erased).

In the erasure's transaction: every connection that holds the contact gets a delete through
the outbox (the write path's delete reaches the connections that receive contacts; this adds
those that only hold a link, e.g. an inbound-only CRM), and the sync tables are scrubbed —
the rows' pushes (last errors), their delivery attempts (excerpts), the webhook bodies about
them (by remote id), and any other excerpt or body quoting one of the person's values.
"""

import json
from typing import Any

from django.db import transaction
from django.db.models import Q

from contacts.models import Contact, MirrorModel
from portal.actors import Actor
from portal.erasure import ERASED, scrub_rows
from sync.engine.outbox import enqueue_pushes
from sync.models import WAITING, DeliveryAttempt, InboundEvent, Link, OutboundChange
from sync.models.automations import AutomationRun, AutomationStep
from sync.objects import object_type_of

ERASED_BODY = json.dumps({"erased": True})


def on_contact_erased(
    sender: Any,
    *,
    contact: Contact,
    rows: list[MirrorModel],
    terms: list[str],
    actor: Actor,
    **kwargs: Any,
) -> None:
    records = Q()
    for row in rows:
        records |= Q(object_type=object_type_of(row), object_id=row.pk)
    queue_deletes(contact, actor)
    _scrub_pushes(records, terms)
    _scrub_inbound(records, terms)
    _scrub_links(records)
    _scrub_automation_runs(records)


def queue_deletes(contact: Contact, actor: Actor) -> list[OutboundChange]:
    """A delete for every live connection holding the contact that has none waiting."""
    holders = (
        Link.objects.filter(object_type="contact", object_id=contact.pk)
        .exclude(remote_id="")
        .filter(connection__deleted_at__isnull=True, connection__active=True)
        .values_list("connection_id", flat=True)
    )
    waiting = OutboundChange.objects.filter(
        object_type="contact", object_id=contact.pk, status__in=WAITING
    ).values_list("connection_id", flat=True)
    missing = set(holders) - set(waiting)
    rows = OutboundChange.objects.bulk_create(
        OutboundChange(
            connection_id=connection_id,
            object_type="contact",
            object_id=contact.pk,
            audit_action="delete",
            actor_label=actor.label[:200],
            request_id=actor.request_id,
        )
        for connection_id in sorted(missing)
    )
    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: enqueue_pushes(ids))
    return rows


def _scrub_pushes(records: Q, terms: list[str]) -> None:
    changes = OutboundChange.objects.filter(records)
    DeliveryAttempt.objects.filter(change__in=changes).update(
        request_excerpt=ERASED, response_excerpt=ERASED, error=ERASED
    )
    changes.exclude(last_error="").update(last_error=ERASED)
    fields = ["path", "request_excerpt", "response_excerpt", "error"]
    scrub_rows(DeliveryAttempt.objects.all(), fields, terms)
    scrub_rows(OutboundChange.objects.all(), ["last_error"], terms)


def _scrub_inbound(records: Q, terms: list[str]) -> None:
    about = Q(pk__in=[])
    for object_type, remote_ids in _remote_ids(records).items():
        about |= Q(object_type=object_type, remote_id__in=remote_ids)
    InboundEvent.objects.filter(about).update(body=ERASED_BODY, result="", error="")
    scrub_rows(InboundEvent.objects.all(), ["body", "result", "error"], terms)


def _remote_ids(records: Q) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for object_type, remote_id in (
        Link.objects.filter(records).exclude(remote_id="").values_list("object_type", "remote_id")
    ):
        found.setdefault(object_type, []).append(remote_id)
    return found


def _scrub_links(records: Q) -> None:
    """What each remote last held of the rows (for field-level merge): a tombstone needs none."""
    Link.objects.filter(records).update(remote_snapshot={})


def _scrub_automation_runs(records: Q) -> None:
    """Automation runs about the rows keep their steps' statuses, not what the steps sent."""
    runs = AutomationRun.objects.filter(records)
    AutomationStep.objects.filter(run__in=runs).update(
        inputs={}, calls=[], output={}, last_error=""
    )
    runs.update(context={"erased": True}, event_label="")
