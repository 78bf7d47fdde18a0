"""Erasure of a contact's personal data, and purging old tombstones (part of the write path).

    contact_erase(contact, actor=...) -> Contact       tombstone + scrub, in one transaction
    purge_tombstones(model, ids) -> int                 hard-delete tombstones (retention)

Erasing a contact tombstones it (and its tasks, notes and appointments) through
`mirror_delete`, so every connection gets its delete through the outbox as for any delete;
then blanks every personal field of those rows, scrubs their audit entries (values erased,
field names kept) and the admin's log of them, drops stored API responses that quoted the
contact, and writes one audit entry saying that an erasure happened and by whom — with no
personal value in it. `contact_erased` then lets the sync layer scrub its own rows (pushes,
delivery attempts, webhook bodies) and make sure every connection holding the contact deletes
it, all in the same transaction.
"""

from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import Appointment, Contact, MirrorModel, Note, Task
from contacts.services import mirror_delete
from contacts.signals import contact_erased
from portal.actors import Actor
from portal.audit import record_change
from portal.erasure import ERASED, scrub_rows, search_terms
from portal.models import AuditAction, AuditEntry, IdempotencyRecord

# Per model: field → the value it is left with. Everything a person typed or is described by.
CONTACT_TEXT = ("first_name", "last_name", "email", "email_key", "phone", "gender",
                "company_name", "address1", "city", "state", "postal_code", "country",
                "website", "timezone", "source", "external_id")  # fmt: skip
BLANKS: dict[type[MirrorModel], dict[str, Any]] = {
    Contact: {
        **dict.fromkeys(CONTACT_TEXT, ""),
        "date_of_birth": None,
        "tags": [],
        "custom_fields": {},
        "dnd": False,
        "assigned_user": None,
    },
    Task: {"title": ERASED, "body": ""},
    Note: {"body": ERASED},
    Appointment: {"title": "", "address": "", "notes": ""},
}
# Values that identify the person on their own: scrubbed wherever they are quoted, also in
# other records' audit entries. Logs (excerpts, webhook bodies) are scrubbed of every personal
# value (names and custom values too): there over-redaction costs nothing.
IDENTIFYING = ("email", "phone", "address1", "website", "external_id")
PERSONAL = ("first_name", "last_name", "company_name", "postal_code")


def identifying_values(contact: Contact) -> list[Any]:
    return [getattr(contact, name) for name in IDENTIFYING] + [contact.name]


def personal_values(contact: Contact) -> list[Any]:
    values = identifying_values(contact) + [getattr(contact, name) for name in PERSONAL]
    return values + [v for v in (contact.custom_fields or {}).values() if isinstance(v, str)]


def contact_erase(contact: Contact, *, actor: Actor) -> Contact:
    """Erase the contact's personal data everywhere in the portal; deletes reach every remote."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        identifying = search_terms(identifying_values(contact))
        terms = search_terms(personal_values(contact))
        mirror_delete(contact, actor=actor)
        children = [*contact.tasks.all(), *contact.notes.all(), *contact.appointments.all()]
        rows: list[MirrorModel] = [contact, *children]
        for row in rows:
            _blank(row)
        _scrub_portal_rows(rows, identifying)
        contact.refresh_from_db()
        record_change(
            actor=actor,
            action=AuditAction.ERASE,
            instance=contact,
            changes={"personal data": [ERASED, ERASED]},
        )
        contact_erased.send(sender=Contact, contact=contact, rows=rows, terms=terms, actor=actor)
    return contact


def _blank(row: MirrorModel) -> None:
    blanks = BLANKS[type(row)]
    type(row).objects.filter(pk=row.pk).update(
        **blanks, version=row.version + 1, updated_at=timezone.now()
    )


def _scrub_portal_rows(rows: list[MirrorModel], identifying: list[str]) -> None:
    for row in rows:
        label, public_id = row._meta.label_lower, row.public_id
        for entry in AuditEntry.objects.filter(object_type=label, object_id=public_id):
            changes = {name: [ERASED, ERASED] for name in entry.changes}
            AuditEntry.objects.filter(pk=entry.pk).update(changes=changes, object_repr=public_id)
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(type(row)), object_id=str(row.pk)
        ).update(object_repr=public_id, change_message="")
    public_ids = [row.public_id for row in rows]
    quoting = Q()
    for public_id in public_ids:
        quoting |= Q(response_body__icontains=public_id)
    IdempotencyRecord.objects.filter(quoting).delete()  # a replay cache, not a record
    scrub_rows(AuditEntry.objects.all(), ["object_repr", "changes"], identifying)
    scrub_rows(LogEntry.objects.all(), ["object_repr", "change_message"], identifying)


def purge_tombstones(model: type[MirrorModel], ids: list[int]) -> int:
    """Hard-delete these tombstones (only tombstones: a live row is never touched)."""
    deleted, _per_model = model.objects.filter(pk__in=ids, deleted_at__isnull=False).delete()
    return deleted
