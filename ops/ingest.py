"""Writing pages of remote records into the mirror, through the one write path.

`Ingestor(connection, actor).apply(object_type, items, contact=None)` upserts a page:

- one query finds the page's Links (remote id → mirror row) and one loads those rows;
- contacts without a Link are matched to an unlinked mirror contact by e-mail (one query), so a
  record that exists on both sides is linked, not duplicated;
- a record whose mapped values equal the mirror's is counted unchanged without calling the
  services (the comparison is on normalised values: sync.inbound.values);
- a changed record we have goes through the one inbound path (sync.inbound.apply: permission,
  field-level merge against the link's snapshot, newest wins by the remote's `dateUpdated`);
- the page's new records are checked by the same policy (may this connection create them?) and
  written together (mirror_bulk_create: one COPY on PostgreSQL, else one INSERT, for the rows
  and one for their audit entries; a refused row is tallied as failed with its reason and the
  rest still land); their Links, with the snapshot of what the remote holds, are inserted the same
  way, as values without model instances (portal.bulk_insert.insert_rows);
- the connection's mapping is merged once per page (CompleteRecords), not once per record.

The caller owns the transaction (one per page). The Link unique constraints make a concurrent
second writer fail its page instead of duplicating records.
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from contacts import services
from contacts.models import Contact, MirrorModel
from contacts.normalize import email_key
from ops.complete_records import CompleteRecords
from portal.actors import Actor
from portal.bulk_insert import insert_rows
from sync.connectors import connector_for
from sync.connectors.base import Connector
from sync.inbound import policy
from sync.inbound.apply import UPSERT, Outcome, RemoteChange, apply_remote_change
from sync.inbound.policy import clamped
from sync.inbound.snapshot import known_values, new_link, with_fields
from sync.inbound.values import comparable_values, mirror_values
from sync.mapping.mapper import reads_database
from sync.mapping.transforms import MappingError
from sync.models import Connection, InboundStatus, Link
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

    def count(self, object_type: str, remote_id: str, outcome: Outcome | None) -> None:
        """One record's outcome through the inbound path (None: nothing differed)."""
        if outcome is not None and outcome.status == InboundStatus.REFUSED:
            self.fail(f"{object_type} {remote_id}: {outcome.result}")
        elif outcome is not None and outcome.written:
            self.updated += 1
        else:
            self.unchanged += 1

    def add(self, other: "Tally") -> None:
        for name in ("created", "updated", "unchanged", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors[: max(0, MAX_ERRORS - len(self.errors))])

    def count_page_into(self, record: Any, *, newest_first: bool, kept: int) -> None:
        """Add this page's counts to a run or checkpoint row (pages, counters, at most `kept`
        errors: the newest first where the console lists them so)."""
        record.pages += 1
        for name, value in self.as_dict().items():
            setattr(record, name, getattr(record, name) + value)
        if self.errors:
            merged = self.errors + record.errors if newest_first else record.errors + self.errors
            record.errors = merged[:kept]

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


# Types whose new rows need nothing from the database to be prepared (no parent contact).
PREPARABLE = ("contact",)


@dataclass
class PreparedCreate:
    """A listed record made ready to be created (Ingestor.prepare): its mapped values, its
    NewRow, and the write path's prepared row (or the ValidationError it raised)."""

    values: dict[str, Any]
    row: services.NewRow
    prepared: services.PreparedRow | ValidationError


# A record of the page's bulk create: the listed item, its row, and its prepared row if any.
Create = tuple[dict[str, Any], services.NewRow, services.PreparedRow | ValidationError | None]


class Ingestor:
    """`connector`: reads a listed record's id and change time (the connection's by default:
    a partner's listing keeps them at its configured paths)."""

    def __init__(
        self, connection: Connection, actor: Actor, connector: Connector | None = None
    ) -> None:
        self.connection = connection
        self.actor = actor
        self.connector = connector or connector_for(connection)

    def apply(
        self,
        object_type: str,
        items: list[dict[str, Any]],
        *,
        parents: Mapping[str, Contact] | None = None,
        prepared: Mapping[str, PreparedCreate] | None = None,
    ) -> Tally:
        """Upsert one page (call inside a transaction).

        `parents`: for tasks, notes and appointments, item remote id → its mirror contact.
        `prepared`: the page's records made ready beforehand (prepare); used for the records
        that turn out to be new, the others are mapped here against their mirror row.
        """
        tally = Tally()
        if not items:
            return tally
        parents, prepared = parents or {}, prepared or {}
        records = CompleteRecords(self.connection, object_type)
        items = [item for item in items if self._id(object_type, item)]
        linked = self.linked_pairs(object_type, items)
        by_email = self._unlinked_contacts(items, linked) if object_type == "contact" else {}
        new_links: list[dict[str, Any]] = []
        creates: list[Create] = []
        for item in items:
            remote_id = self._id(object_type, item)
            instance, link = linked.get(remote_id, (None, None))
            new = instance is None and remote_id not in by_email
            early = prepared.get(remote_id) if new and remote_id not in parents else None
            try:
                if early is not None:
                    self._queue_prepared(object_type, item, early, creates, tally)
                    continue
                values = records.values(item, instance or by_email.get(remote_id))
                if instance is None and remote_id in by_email:
                    new_links.append(self._link(object_type, by_email[remote_id], item, values))
                    instance = by_email[remote_id]
                if instance is None:
                    self._queue_create(object_type, item, values, parents, creates, tally)
                    continue
                outcome = self._update(object_type, instance, link, values, item)
            except (ValidationError, MappingError, ValueError, TypeError) as exc:
                tally.fail(f"{object_type} {remote_id}: {_message(exc)}")
                continue
            tally.count(object_type, remote_id, outcome)
        new_links.extend(self._create(object_type, creates, tally))
        insert_rows(Link, new_links)
        return tally

    def prepare(self, object_type: str, items: list[dict[str, Any]]) -> dict[str, PreparedCreate]:
        """Remote id → what creating the record would write, for a page's records that need
        nothing from the database to map (no reference to resolve): mapped, normalised and
        validated by the write path's rules. Does no database work, so it may run on another
        thread while the previous page is written (the connection's workspace and mappings
        must be loaded). A record that fails to map is left out: apply maps it and says why."""
        if object_type not in PREPARABLE:
            return {}
        records = CompleteRecords(self.connection, object_type)
        model = mirror_model(object_type)
        ready = {}
        for item in items:
            remote_id = self._id(object_type, item)
            if not remote_id or reads_database(item, records.references):
                continue
            try:
                values = records.values(item)
            except (ValidationError, MappingError, ValueError, TypeError):
                continue
            row = services.NewRow(values, clamped(self._updated_at(object_type, item)))
            try:
                done = services.prepare_new_row(model, self.connection.workspace, row)
            except ValidationError as exc:
                done = exc
            ready[remote_id] = PreparedCreate(values, row, done)
        return ready

    # --- internals ----------------------------------------------------------------------

    def _id(self, object_type: str, item: dict[str, Any]) -> str:
        return self.connector.remote_id(object_type, item)

    def _updated_at(self, object_type: str, item: dict[str, Any]) -> datetime.datetime | None:
        return self.connector.remote_updated_at(object_type, item)

    def _queue_create(
        self,
        object_type: str,
        item: dict[str, Any],
        values: dict[str, Any],
        parents: Mapping[str, Contact],
        creates: list[Create],
        tally: Tally,
    ) -> None:
        """A new record joins the page's bulk create, if this connection may create it."""
        if self._refused(object_type, item, values, tally):
            return
        contact = parents.get(self._id(object_type, item))
        data = {**values, "contact": contact} if contact is not None else values
        changed_at = clamped(self._updated_at(object_type, item))
        creates.append((item, services.NewRow(data, changed_at), None))

    def _queue_prepared(
        self,
        object_type: str,
        item: dict[str, Any],
        early: PreparedCreate,
        creates: list[Create],
        tally: Tally,
    ) -> None:
        """_queue_create for a record prepared beforehand (same policy check)."""
        if not self._refused(object_type, item, early.values, tally):
            creates.append((item, early.row, early.prepared))

    def _refused(
        self, object_type: str, item: dict[str, Any], values: dict[str, Any], tally: Tally
    ) -> bool:
        reason = policy.refusal(self.connection, object_type, policy.CREATE, None, values)
        if reason:
            tally.fail(f"{object_type} {self._id(object_type, item)}: refused: {reason}")
        return bool(reason)

    def _update(
        self,
        object_type: str,
        instance: MirrorModel,
        link: Link | None,
        values: dict[str, Any],
        item: dict[str, Any],
    ) -> Outcome | None:
        """The one inbound path for a record we have (None: equal, nothing to decide)."""
        seen = comparable_values(type(instance), values)
        if seen == mirror_values(instance, seen):
            self._keep_snapshot(object_type, instance, link, seen, item)
            return None
        change = RemoteChange(
            object_type,
            UPSERT,
            self._id(object_type, item),
            values,
            self._updated_at(object_type, item),
        )
        return apply_remote_change(
            self.connection, change, actor=self.actor, found=(instance, link)
        )

    def _keep_snapshot(
        self,
        object_type: str,
        instance: MirrorModel,
        link: Link | None,
        seen: dict[str, Any],
        item: dict,
    ) -> None:
        """An unchanged record still tells what the remote holds (written only if news)."""
        if link is None or instance.is_deleted:
            return
        known = known_values(link)
        if any(known.get(name) != value for name, value in seen.items()):
            snapshot = with_fields(link, seen, clamped(self._updated_at(object_type, item)))
            Link.objects.filter(pk=link.pk).update(remote_snapshot=snapshot)

    def _create(
        self,
        object_type: str,
        creates: list[Create],
        tally: Tally,
    ) -> list[dict[str, Any]]:
        """The page's new records in one bulk write; their Links (a refused row is tallied)."""
        results = services.mirror_bulk_create(
            mirror_model(object_type),
            workspace=self.connection.workspace,
            actor=self.actor,
            rows=[row for _item, row, _early in creates],
            prepared=[early for _item, _row, early in creates],
        )
        links = []
        for (item, row, _early), outcome in zip(creates, results, strict=True):
            if isinstance(outcome, ValidationError):
                tally.fail(f"{object_type} {self._id(object_type, item)}: {_message(outcome)}")
                continue
            links.append(self._link(object_type, outcome, item, dict(row.data), created=True))
            tally.created += 1
        return links

    def linked(self, object_type: str, items: list[dict[str, Any]]) -> dict[str, MirrorModel]:
        return {rid: pair[0] for rid, pair in self.linked_pairs(object_type, items).items()}

    def linked_pairs(
        self, object_type: str, items: list[dict[str, Any]]
    ) -> dict[str, tuple[MirrorModel, Link]]:
        """Remote id → (mirror row, its Link) for the page's records we already have."""
        remote_ids = [self._id(object_type, item) for item in items]
        links = {
            link.remote_id: link
            for link in Link.objects.filter(
                connection=self.connection, object_type=object_type, remote_id__any_of=remote_ids
            ).exclude(remote_id="")  # lets SQLite use the partial unique index on remote_id
        }
        rows = mirror_model(object_type).objects.in_bulk([lk.object_id for lk in links.values()])
        return {
            rid: (rows[link.object_id], link)
            for rid, link in links.items()
            if link.object_id in rows
        }

    def _unlinked_contacts(
        self, items: list[dict[str, Any]], linked: Mapping[str, Any]
    ) -> dict[str, Contact]:
        """Remote id → the live, unlinked mirror contact with the same e-mail."""
        wanted = {
            email_key(str(item["email"]).strip()): self._id("contact", item)
            for item in items
            if item.get("email") and self._id("contact", item) not in linked
        }
        if not wanted:
            return {}
        candidates = list(
            Contact.objects.live().filter(
                workspace=self.connection.workspace, email_key__any_of=list(wanted)
            )
        )
        if not candidates:
            return {}
        # Asked about the few candidates only: `NOT IN (every link of the connection)` read all
        # of them for every page, so a backfill slowed down as it went.
        linked = set(
            Link.objects.filter(
                connection=self.connection,
                object_type="contact",
                object_id__in=[c.pk for c in candidates],
            ).values_list("object_id", flat=True)
        )
        return {wanted[c.email_key]: c for c in candidates if c.pk not in linked}

    def _link(
        self,
        object_type: str,
        instance: MirrorModel,
        item: dict[str, Any],
        values: dict[str, Any],
        *,
        created: bool = False,
    ) -> dict[str, Any]:
        """A new Link's values, with what the remote holds: a row just created from it holds
        exactly that (already normalised); a matched one is compared by its mapped values."""
        changed_at = clamped(self._updated_at(object_type, item))
        names = [name for name in values if name != "contact"]
        seen = (
            mirror_values(instance, names)
            if created
            else comparable_values(type(instance), {n: values[n] for n in names})
        )
        remote_id = self._id(object_type, item)
        return new_link(self.connection, object_type, instance.pk, remote_id, seen, changed_at)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)
