"""The one write path for mirror objects.

Every change — partner API, admin, inbound webhook, backfill — goes through these functions.
Each runs in one transaction: it saves the row, writes the audit entry and sends
`mirror_changed`, whose receivers (the sync outbox) write in that same transaction.

Conflict policy (newest wins): a caller may pass `source_updated_at`, the time of the change by
its source's clock; a change older than the state we hold is ignored. Tombstones are final: an
update to a deleted object changes nothing.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.email_uniqueness import (  # noqa: F401 - DuplicateEmail, … are part of this API
    DUPLICATE_EMAIL,
    DuplicateEmail,
    claim_email_key,
    duplicate_email_refused,
    refuse_taken_email,
    taken_email_keys,
    unique_email_key,
    workspace_set_allow_duplicate_contacts,
)
from contacts.models import Appointment, Contact, CrmUser, MirrorModel, Note, Task
from contacts.normalize import email_key, normalize_email
from contacts.row_values import (  # noqa: F401 - writable_fields is part of this API
    derive,
    normalized,
    validate,
    writable_fields,
)
from contacts.signals import mirror_changed
from portal.actors import Actor
from portal.audit import audit_values, record_change, record_changes
from portal.bulk_insert import bulk_insert
from portal.models import AuditAction, Workspace

M = TypeVar("M", bound=MirrorModel)


# --- Generic operations ---------------------------------------------------------------------


def mirror_create(
    model: type[M],
    *,
    workspace: Workspace,
    actor: Actor,
    data: Mapping[str, Any],
    source_updated_at: datetime | None = None,
) -> M:
    instance, changes = _new_instance(model, workspace, data, source_updated_at)
    with duplicate_email_refused(instance), transaction.atomic():
        instance.save()
        _announce(instance, AuditAction.CREATE, changes, actor)
    return instance


@dataclass(frozen=True)
class NewRow:
    """One row for `mirror_bulk_create`: what mirror_create takes as `data` and its time."""

    data: Mapping[str, Any]
    source_updated_at: datetime | None = None


@dataclass(frozen=True)
class PreparedRow:
    """A NewRow normalised and validated (prepare_new_row), not yet written."""

    instance: MirrorModel
    changes: dict[str, list[Any]]


def prepare_new_row(model: type[M], workspace: Workspace, row: NewRow) -> PreparedRow:
    """The part of mirror_create that needs no database: normalise, derive, validate (raises
    ValidationError). A caller may prepare a page's rows ahead of writing them, e.g. while the
    previous page is written; `workspace` must be loaded (its settings are read)."""
    instance, changes = _new_instance(model, workspace, row.data, row.source_updated_at)
    return PreparedRow(instance, changes)


def mirror_bulk_create(
    model: type[M],
    *,
    workspace: Workspace,
    actor: Actor,
    rows: Sequence[NewRow],
    prepared: Sequence[PreparedRow | ValidationError | None] | None = None,
) -> list[M | ValidationError]:
    """mirror_create for many rows at once: one bulk insert for the rows (COPY on PostgreSQL,
    portal.bulk_insert), one for their audit entries.

    Every row is normalised and validated exactly as mirror_create does; a refused row comes
    back as its ValidationError (in its place) and the others are still created. Each created
    row is announced with `mirror_changed`, so the outbox writes in this same transaction.
    `prepared`: for each row, prepare_new_row's result for it (its PreparedRow or the
    ValidationError it raised) when done beforehand, or None (prepared here).
    """
    results: list[M | ValidationError] = []
    ready: list[tuple[M, dict[str, list[Any]]]] = []
    taken = taken_email_keys(model, workspace, rows)
    for row, early in zip(rows, prepared or [None] * len(rows), strict=True):
        try:
            done = early if early is not None else prepare_new_row(model, workspace, row)
            if isinstance(done, ValidationError):
                raise done
            instance, changes = done.instance, done.changes
            claim_email_key(instance, taken)
        except ValidationError as exc:
            results.append(exc)
            continue
        ready.append((instance, changes))
        results.append(instance)
    if not ready:
        return results
    # All or nothing, with no savepoint of its own inside a caller's transaction (a backfill
    # page's): nothing here is caught, so a failure undoes the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        for instance, _changes in ready:
            instance.ensure_public_id()
        bulk_insert(model, [instance for instance, _changes in ready])
        record_changes(
            [
                audit_values(actor=actor, action=AuditAction.CREATE, instance=i, changes=c)
                for i, c in ready
            ]
        )
        for instance, changes in ready:
            _signal(instance, AuditAction.CREATE, changes, actor)
    return results


def mirror_update(
    instance: M,
    *,
    actor: Actor,
    data: Mapping[str, Any],
    source_updated_at: datetime | None = None,
    if_version: Collection[int] | None = None,
    locked: bool = False,
) -> tuple[M, bool]:
    """Apply `data`; returns the current object and whether anything changed.

    `if_version`: the versions the caller read (HTTP If-Match); another current version raises
    VersionMismatch, checked under the row lock so two writers cannot both pass.
    `locked`: the caller read `instance` with `locked_for_update` in the transaction it has
    open, so it is the current row and stays so: it is written as it is, not read again, and
    in that transaction itself. A savepoint there would make PostgreSQL keep the row's lock
    and its update together for every write (a multixact); the one reason for it, asking who
    holds an e-mail once the unique index has refused it, is asked before the write instead."""
    values = normalized(type(instance), data)
    with duplicate_email_refused(instance), transaction.atomic(savepoint=not locked):
        current = _checked(instance, if_version) if locked else _locked(instance, if_version)
        if current.is_deleted or _is_stale(current, source_updated_at):
            return current, False
        changes = _diff(current, values)
        if not changes:
            return current, False
        held = getattr(current, "unique_email_key", None)
        for name, (_before, after) in changes.items():
            setattr(current, name, after)
        derive(current)
        validate(current)
        if locked:
            refuse_taken_email(current, held=held)
        current.version += 1
        current.source_updated_at = source_updated_at or timezone.now()
        current.save()
        _announce(current, AuditAction.UPDATE, changes, actor)
    return current, True


def mirror_delete(
    instance: M,
    *,
    actor: Actor,
    source_updated_at: datetime | None = None,
    if_version: Collection[int] | None = None,
) -> tuple[M, bool]:
    """Tombstone the object (and a contact's tasks, notes and appointments).

    A delete is applied whatever its timestamp: the record is gone at its source, so keeping it
    would only push updates that can no longer land.
    """
    with transaction.atomic():
        current = _locked(instance, if_version)
        if current.is_deleted:
            return current, False
        if isinstance(current, Contact):
            for child in tombstoned_with(current):
                mirror_delete(child, actor=actor, source_updated_at=source_updated_at)
        now = timezone.now()
        current.deleted_at = now
        derive(current)  # a tombstone frees its e-mail for a new contact
        current.version += 1
        current.source_updated_at = max(source_updated_at or now, current.source_updated_at or now)
        current.save()
        _announce(current, AuditAction.DELETE, {"deleted_at": [None, now]}, actor)
    return current, True


# --- Named operations (what callers read) ---------------------------------------------------


def user_create(*, workspace: Workspace, actor: Actor, data: Mapping[str, Any], **kw) -> CrmUser:
    return mirror_create(CrmUser, workspace=workspace, actor=actor, data=data, **kw)


def contact_create(*, workspace: Workspace, actor: Actor, data: Mapping[str, Any], **kw) -> Contact:
    return mirror_create(Contact, workspace=workspace, actor=actor, data=data, **kw)


def task_create(*, workspace: Workspace, actor: Actor, data: Mapping[str, Any], **kw) -> Task:
    return mirror_create(Task, workspace=workspace, actor=actor, data=data, **kw)


def note_create(*, workspace: Workspace, actor: Actor, data: Mapping[str, Any], **kw) -> Note:
    return mirror_create(Note, workspace=workspace, actor=actor, data=data, **kw)


def appointment_create(
    *, workspace: Workspace, actor: Actor, data: Mapping[str, Any], **kw
) -> Appointment:
    return mirror_create(Appointment, workspace=workspace, actor=actor, data=data, **kw)


UPSERT_CREATED, UPSERT_UPDATED, UPSERT_UNCHANGED = "created", "updated", "unchanged"


def contact_upsert(
    *, workspace: Workspace, actor: Actor, data: Mapping[str, Any]
) -> tuple[Contact, str]:
    """Update the contact with this `external_id` (else this e-mail), or create one.

    Returns the contact and "created", "updated" or "unchanged".
    """
    match = _upsert_match(workspace, data)
    if match is None:
        return contact_create(workspace=workspace, actor=actor, data=data), UPSERT_CREATED
    contact, changed = mirror_update(match, actor=actor, data=data)
    return contact, UPSERT_UPDATED if changed else UPSERT_UNCHANGED


# The most items one bulk write commits at once (others' writes wait for at most this many).
BULK_TRANSACTION_ROWS = 100


@dataclass(frozen=True)
class BulkItemResult:
    status: str  # created, updated, unchanged or error
    contact: Contact | None = None
    errors: dict[str, list[str]] | None = None


def contact_bulk_upsert(
    *, workspace: Workspace, actor: Actor, items: Sequence[Mapping[str, Any]]
) -> list[BulkItemResult]:
    """Upsert each item in its own savepoint: a refused item does not undo the others.

    Items are committed in transactions of at most BULK_TRANSACTION_ROWS: one transaction for
    a thousand items held SQLite's single writer (and the workspace lock) for seconds, and
    every other workspace's writes waited. A failure part-way leaves the earlier batches
    committed; sending the same items again is safe, as each is an upsert.
    """
    results = []
    for start in range(0, len(items), BULK_TRANSACTION_ROWS):
        with transaction.atomic():
            # Serialises upserts per workspace, so two concurrent calls cannot both create
            # the same e-mail.
            Workspace.objects.select_for_update().filter(pk=workspace.pk).exists()
            for item in items[start : start + BULK_TRANSACTION_ROWS]:
                results.append(_upsert_one(workspace, actor, item))
    return results


def _upsert_one(workspace: Workspace, actor: Actor, item: Mapping[str, Any]) -> BulkItemResult:
    try:
        with transaction.atomic():
            contact, status = contact_upsert(workspace=workspace, actor=actor, data=item)
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field": exc.messages}
        return BulkItemResult("error", errors=errors)
    except IntegrityError:
        return BulkItemResult("error", errors={"external_id": ["Already used by a contact."]})
    return BulkItemResult(status, contact=contact)


def _upsert_match(workspace: Workspace, data: Mapping[str, Any]) -> Contact | None:
    contacts = Contact.objects.in_workspace(workspace).order_by("id")
    external_id = str(data.get("external_id") or "").strip()
    if external_id:
        # The repeated `!= ""` lets SQLite use the partial unique index of external ids.
        by_external_id = contacts.filter(external_id=external_id).exclude(external_id="")
        match = by_external_id.first()
        if match is not None and match.is_deleted:
            raise ValidationError({"external_id": ["The contact with this id was deleted."]})
        if match is not None:
            return match
        contacts = contacts.filter(external_id="")
    key = email_key(normalize_email(data.get("email")))
    return contacts.live().filter(email_key=key).first() if key else None


# Updates and deletes are the same for every type; these names keep call sites explicit.
user_update = contact_update = task_update = note_update = appointment_update = mirror_update
user_delete = contact_delete = task_delete = note_delete = appointment_delete = mirror_delete


# --- Internals ------------------------------------------------------------------------------


def _new_instance(
    model: type[M],
    workspace: Workspace,
    data: Mapping[str, Any],
    source_updated_at: datetime | None,
) -> tuple[M, dict[str, list[Any]]]:
    """An unsaved, normalised and validated new row and its audit changes."""
    values = normalized(model, data)
    instance = model(workspace=workspace, **values)
    derive(instance)
    validate(instance)
    instance.source_updated_at = source_updated_at or timezone.now()
    changes = {name: [None, getattr(instance, name)] for name in values if values[name]}
    return instance, changes


def _diff(current: MirrorModel, values: dict[str, Any]) -> dict[str, list[Any]]:
    changes = {}
    for name, value in values.items():
        field = current._meta.get_field(name)
        if field.is_relation:
            if getattr(current, field.attname) != (value.pk if value is not None else None):
                changes[name] = [getattr(current, name), value]
        elif getattr(current, name) != value:
            changes[name] = [getattr(current, name), value]
    return changes


class VersionMismatch(Exception):
    """The object's version is not one the caller expected (someone else changed it)."""

    def __init__(self, current_version: int) -> None:
        super().__init__(f"The current version is {current_version}.")
        self.current_version = current_version


def locked_for_update(instance: M) -> M:
    """`instance`'s current row, locked until the caller's transaction ends, with its
    workspace (whose settings the write reads) joined in, not locked."""
    rows = type(instance).objects.select_for_update(of=("self",)).select_related("workspace")
    return rows.get(pk=instance.pk)


def _locked(instance: M, if_version: Collection[int] | None = None) -> M:
    return _checked(locked_for_update(instance), if_version)


def _checked(current: M, if_version: Collection[int] | None) -> M:
    if if_version is not None and current.version not in if_version:
        raise VersionMismatch(current.version)
    return current


def _is_stale(current: MirrorModel, source_updated_at: datetime | None) -> bool:
    return bool(
        source_updated_at
        and current.source_updated_at
        and source_updated_at < current.source_updated_at
    )


def tombstoned_with(contact: Contact) -> list[MirrorModel]:
    """What a contact's delete tombstones with it: its live tasks, notes and appointments
    (the delete and the admin's delete confirmation both read it)."""
    return [
        *contact.tasks.live(),
        *contact.notes.live(),
        *contact.appointments.live(),
    ]


def _announce(
    instance: MirrorModel, action: str, changes: dict[str, list[Any]], actor: Actor
) -> None:
    record_change(actor=actor, action=action, instance=instance, changes=changes)
    _signal(instance, action, changes, actor)


def _signal(
    instance: MirrorModel, action: str, changes: dict[str, list[Any]], actor: Actor
) -> None:
    mirror_changed.send(
        sender=type(instance), instance=instance, action=action, changes=changes, actor=actor
    )
