"""Writing pages of remote records into the mirror, through the one write path.

`Ingestor(connection, actor).apply(object_type, items, contact=None)` upserts a page:

- one query finds the page's Links (remote id → mirror row) and one loads those rows;
- contacts without a Link are matched to an unlinked mirror contact by e-mail (one query), so a
  record that exists on both sides is linked, not duplicated;
- a record whose mapped values equal the mirror's is counted unchanged without calling the
  services (the comparison is on normalised values: `comparable_values`);
- everything else goes through contacts.services with the remote's `dateUpdated` as
  `source_updated_at` (so newest wins): changed records one by one (mirror_update), the page's
  new records together (mirror_bulk_create: one INSERT for the rows, one for their audit
  entries; a refused row is tallied as failed and the rest still land); new Links are
  bulk-inserted.

The caller owns the transaction (one per page). The Link unique constraints make a concurrent
second writer fail its page instead of duplicating records.
"""

import datetime
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.dateparse import parse_datetime

from contacts import services
from contacts.models import Contact, MirrorModel
from contacts.normalize import email_key, normalize_email, normalize_phone
from portal.actors import Actor
from sync.mapping import MappingError, from_remote, mappings_for
from sync.models import Connection, FieldMapping, Link
from sync.objects import mirror_model

MAX_ERRORS = 50


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failed += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message[:500])

    def add(self, other: "Tally") -> None:
        for name in ("created", "updated", "unchanged", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors[: max(0, MAX_ERRORS - len(self.errors))])

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.failed

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
        }


def remote_updated_at(item: dict[str, Any]) -> datetime.datetime | None:
    """The remote's own time of the record's current state (dateUpdated, else dateAdded)."""
    raw = item.get("dateUpdated") or item.get("updatedAt") or item.get("dateAdded")
    try:
        return parse_datetime(str(raw)) if raw else None
    except ValueError:
        return None


class Ingestor:
    def __init__(self, connection: Connection, actor: Actor) -> None:
        self.connection = connection
        self.actor = actor

    def apply(
        self,
        object_type: str,
        items: list[dict[str, Any]],
        *,
        parents: Mapping[str, Contact] | None = None,
    ) -> Tally:
        """Upsert one page (call inside a transaction).

        `parents`: for tasks, notes and appointments, item remote id → its mirror contact.
        """
        tally = Tally()
        if not items:
            return tally
        parents = parents or {}
        items = [item for item in items if _remote_id(item)]
        linked = self.linked(object_type, items)
        by_email = self._unlinked_contacts(items, linked) if object_type == "contact" else {}
        new_links: list[Link] = []
        creates: list[tuple[dict[str, Any], services.NewRow]] = []
        for item in items:
            remote_id = _remote_id(item)
            instance = linked.get(remote_id)
            try:
                if instance is None and remote_id in by_email:
                    instance = by_email[remote_id]
                    new_links.append(self._link(object_type, instance, item))
                values = self._values(object_type, item, instance, parents.get(remote_id))
                if instance is None:
                    creates.append((item, services.NewRow(values, remote_updated_at(item))))
                    continue
                changed = self._update(instance, values, item)
            except (ValidationError, MappingError, ValueError, TypeError) as exc:
                tally.fail(f"{object_type} {remote_id}: {_message(exc)}")
                continue
            if changed:
                tally.updated += 1
            else:
                tally.unchanged += 1
        new_links.extend(self._create(object_type, creates, tally))
        Link.objects.bulk_create(new_links)
        return tally

    # --- internals ----------------------------------------------------------------------

    def _values(
        self,
        object_type: str,
        item: dict[str, Any],
        instance: MirrorModel | None,
        contact: Contact | None,
    ) -> dict[str, Any]:
        values = full_values(item, object_type, self.connection, instance)
        if contact is not None:
            values["contact"] = contact
        return values

    def _update(self, instance: MirrorModel, values: dict[str, Any], item: dict[str, Any]) -> bool:
        """Whether the existing mirror row changed (newest wins; tombstones stay)."""
        if instance.is_deleted or not differs(instance, values):
            return False
        _current, changed = services.mirror_update(
            instance, actor=self.actor, data=values, source_updated_at=remote_updated_at(item)
        )
        return changed

    def _create(
        self,
        object_type: str,
        creates: list[tuple[dict[str, Any], services.NewRow]],
        tally: Tally,
    ) -> list[Link]:
        """The page's new records in one bulk write; their Links (a refused row is tallied)."""
        results = services.mirror_bulk_create(
            mirror_model(object_type),
            workspace=self.connection.workspace,
            actor=self.actor,
            rows=[row for _item, row in creates],
        )
        links = []
        for (item, _row), outcome in zip(creates, results, strict=True):
            if isinstance(outcome, ValidationError):
                tally.fail(f"{object_type} {_remote_id(item)}: {_message(outcome)}")
                continue
            links.append(self._link(object_type, outcome, item))
            tally.created += 1
        return links

    def linked(self, object_type: str, items: list[dict[str, Any]]) -> dict[str, MirrorModel]:
        remote_ids = [_remote_id(item) for item in items]
        object_ids = dict(
            Link.objects.filter(
                connection=self.connection, object_type=object_type, remote_id__in=remote_ids
            )
            .exclude(remote_id="")  # lets SQLite use the partial unique index on remote_id
            .values_list("remote_id", "object_id")
        )
        rows = mirror_model(object_type).objects.in_bulk(list(object_ids.values()))
        return {rid: rows[oid] for rid, oid in object_ids.items() if oid in rows}

    def _unlinked_contacts(
        self, items: list[dict[str, Any]], linked: dict[str, MirrorModel]
    ) -> dict[str, Contact]:
        """Remote id → the live, unlinked mirror contact with the same e-mail."""
        wanted = {
            email_key(str(item["email"]).strip()): _remote_id(item)
            for item in items
            if item.get("email") and _remote_id(item) not in linked
        }
        if not wanted:
            return {}
        already = Link.objects.filter(connection=self.connection, object_type="contact")
        candidates = (
            Contact.objects.live()
            .filter(workspace=self.connection.workspace, email_key__in=list(wanted))
            .exclude(pk__in=already.values("object_id"))
        )
        return {wanted[c.email_key]: c for c in candidates}

    def _link(self, object_type: str, instance: MirrorModel, item: dict[str, Any]) -> Link:
        return Link(
            connection=self.connection,
            object_type=object_type,
            object_id=instance.pk,
            remote_id=_remote_id(item),
            remote_updated_at=remote_updated_at(item),
        )


# --- comparing by content ---------------------------------------------------------------------


def full_values(
    item: dict[str, Any],
    object_type: str,
    connection: Connection,
    instance: MirrorModel | None = None,
) -> dict[str, Any]:
    """`from_remote` for a complete record (a listing, not a partial webhook): every mapped
    field the remote left out is empty, so a value cleared remotely is cleared here too."""
    values = from_remote(item, object_type, connection, instance)
    model = mirror_model(object_type)
    for spec in mappings_for(connection, object_type):
        if not spec.inbound or spec.transform == FieldMapping.Transform.CONSTANT:
            continue
        for name in spec.mirror_field.split(","):
            name = name.strip()
            if name and "." not in name and name not in values and name != "custom_fields":
                values[name] = _empty(model._meta.get_field(name))
    return values


def _empty(field_: models.Field) -> Any:
    if field_.null:
        return None
    return field_.get_default()


def comparable_values(model: type[MirrorModel], values: dict[str, Any]) -> dict[str, Any]:
    """Values as the write path would store them (e-mail, phone normalised; ids for relations)."""
    out = {}
    for name, value in values.items():
        if name == "email":
            value = _try(normalize_email, value)
        elif name == "phone":
            value = _try(normalize_phone, value)
        out[name] = _canonical(value)
    return out


def mirror_values(instance: MirrorModel, names: list[str]) -> dict[str, Any]:
    return {name: _canonical(_field_value(instance, name)) for name in names}


def differs(instance: MirrorModel, values: dict[str, Any]) -> bool:
    incoming = comparable_values(type(instance), values)
    return incoming != mirror_values(instance, list(incoming))


def content_hash(values: dict[str, Any]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _field_value(instance: MirrorModel, name: str) -> Any:
    field_ = instance._meta.get_field(name)
    return getattr(instance, field_.attname)


def _canonical(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if value is None:
        return ""
    return value


def _try(normalize, value: Any) -> Any:
    try:
        return normalize(value)
    except ValidationError:
        return value


def _remote_id(item: dict[str, Any]) -> str:
    return str(item.get("id") or "")


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)
