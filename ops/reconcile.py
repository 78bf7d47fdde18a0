"""Reconcile: compare a connection's remote records with the mirror and (optionally) repair.

    report = Reconciler(connection, repair=False, sample=100).run(objects)

Every type the connector lists whole (`listable_types`: for the CRM users, contacts, and the
location's tasks and appointments) is paged completely, so presence is exact: a remote record
without a Link is **missing locally**; a Link whose remote id no longer comes back was
**deleted on the remote**; a live mirror record with no Link was **never pushed**; a Link to a
mirror row that no longer exists is an **orphan link**. Content is compared (mapped values,
normalised: see ops.ingest) on a `sample` percent of records. Child types it lists only per
contact (`per_contact_types`: the CRM's notes) are listed and compared for the sampled
contacts (one call per contact and type); given `children_changed_since` (the scheduled run:
its previous run), only for the contacts the remote changed since, so the run stays within a
task's time. A type the connector cannot list is skipped (and named in the report). The
CRM's calendar events are listed from 2015 to three years ahead (its listings.py): an
appointment linked outside that span would be taken for deleted, so none is judged by
presence there.

Repairs go through the write path or the outbox, never around them:
  missing locally        → created through contacts.services (and linked)
  different              → field by field (sync.inbound.policy): the fields the remote changed
                           go through the one inbound path; the mirror's own unpushed changes
                           are queued as a push of just those fields
  deleted on the remote  → tombstoned through the services
  never pushed / deleted locally but still remote → a push queued in the outbox
  orphan link            → the Link row is removed (sync bookkeeping, not mirror data)
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from contacts.models import Appointment, Contact, MirrorModel
from ops.complete_records import full_values
from ops.ingest import Ingestor
from ops.poll import local_contacts
from portal.actors import Actor
from sync.connectors import connector_for
from sync.engine.outbox import enqueue_pushes
from sync.inbound.apply import DELETE, RemoteChange, apply_remote_change
from sync.inbound.values import differs
from sync.mapping.rules import passes_filters
from sync.mapping.transforms import MappingError
from sync.models import WAITING, ChangeStatus, Connection, InboundStatus, Link, OutboundChange
from sync.objects import mirror_model

CATEGORIES = (
    "missing_local",
    "different",
    "deleted_remote",
    "never_pushed",
    "deleted_local",
    "orphan_links",
)
EXAMPLES_KEPT = 20
CHILD_TYPES = ("task", "note", "appointment")
# The span of start times a whole listing of appointments covers (see the module docstring).
APPOINTMENTS_FROM = datetime(2015, 1, 1, tzinfo=UTC)
APPOINTMENTS_AHEAD = timedelta(days=3 * 366)


@dataclass
class Report:
    checked: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    examples: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CATEGORIES})
    repaired: int = 0
    repair_errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def add(self, category: str, label: str) -> None:
        self.counts[category] += 1
        if len(self.examples[category]) < EXAMPLES_KEPT:
            self.examples[category].append(label)

    @property
    def drift(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "drift": self.drift,
            "counts": self.counts,
            "examples": self.examples,
            "repaired": self.repaired,
            "repair_errors": self.repair_errors,
            "skipped": self.skipped,
        }


class Reconciler:
    def __init__(
        self,
        connection: Connection,
        *,
        repair: bool = False,
        sample: float = 100.0,
        children_changed_since: datetime | None = None,
    ) -> None:
        if not 0 < sample <= 100:
            raise ValueError("--sample must be a percentage above 0 and at most 100.")
        self.connection = Connection.objects.prefetch_related("mappings").get(pk=connection.pk)
        self.connector = connector_for(self.connection)
        self.actor = Actor.connection(self.connection, source="reconcile")
        self.ingestor = Ingestor(self.connection, self.actor)
        self.repair = repair
        self.sample = sample
        # Set: a contact's per-contact lists are read only if the remote changed it since.
        self.children_changed_since = children_changed_since
        self.random = random.Random()
        self.report = Report()

    def run(self, objects: list[str]) -> Report:
        whole = self.connector.listable_types
        per_contact = [
            t for t in CHILD_TYPES
            if t in objects and t not in whole and t in self.connector.per_contact_types
        ]  # fmt: skip
        if per_contact and "contact" not in whole:
            per_contact = []
        self.report.skipped = [t for t in objects if t not in whole and t not in per_contact]
        if "user" in objects and "user" in whole:
            self._reconcile_list("user", self._pages("user"), children=[])
        if ("contact" in objects or per_contact) and "contact" in whole:
            self._reconcile_list("contact", self._pages("contact"), per_contact)
        for object_type in CHILD_TYPES:
            if object_type in objects and object_type in whole:
                self._reconcile_list(object_type, self._pages(object_type), children=[])
        return self.report

    # --- one object type, paged completely ----------------------------------------------

    def _pages(self, object_type: str) -> Iterator[list[dict[str, Any]]]:
        cursor = None
        while True:
            page = self.connector.fetch_page(object_type, cursor)
            yield page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _reconcile_list(
        self, object_type: str, pages: Iterator[list[dict[str, Any]]], children: list[str]
    ) -> None:
        listed_from = timezone.now()  # the generator fetches nothing before the loop
        seen: set[str] = set()
        for items in pages:
            ids = [self._id(object_type, item) for item in items]
            seen.update(remote_id for remote_id in ids if remote_id)
            local = self._compare_items(object_type, items)
            for item, remote_id in zip(items, ids, strict=True):
                contact = local.get(remote_id)
                if children and isinstance(contact, Contact) and self._children_due(item):
                    self._reconcile_children(contact, remote_id, children)
        links = Link.objects.filter(connection=self.connection, object_type=object_type)
        self._check_links(object_type, links, seen, listed_from)
        self._check_never_pushed(object_type)

    def _compare_items(
        self, object_type: str, items: list[dict[str, Any]], parent: Contact | None = None
    ) -> dict[str, MirrorModel]:
        """Presence and content of one page; returns remote id → mirror row for linked ones.

        A child listed location-wide (no `parent`) belongs to the contact its `contactId` names.
        """
        parents = None
        if object_type in CHILD_TYPES and parent is None:
            parents = local_contacts(self.connection, [str(i.get("contactId")) for i in items])
        linked = self.ingestor.linked(object_type, items)
        ids = [self._id(object_type, item) for item in items]
        self._check_orphans(object_type, [remote_id for remote_id in ids if remote_id], linked)
        for item, remote_id in zip(items, ids, strict=True):
            if not remote_id:
                continue
            self.report.checked += 1
            instance = linked.get(remote_id)
            label = f"{object_type} {remote_id}"
            if parents is not None:
                parent = parents.get(str(item.get("contactId")))
            if instance is None:
                self.report.add("missing_local", label)
                self._repair_missing_local(object_type, item, parent)
            elif instance.is_deleted:
                self.report.add("deleted_local", label)
                self._queue_push(object_type, instance)
            elif self._sampled() and self._differs(object_type, item, instance):
                self.report.add("different", label)
                self._repair_different(object_type, item, instance, parent)
        return linked

    def _id(self, object_type: str, item: dict[str, Any]) -> str:
        """A listed record's remote id where its connector says it is (a REST partner's may be
        under another key than "id")."""
        return self.connector.remote_id(object_type, item)

    def _reconcile_children(self, contact: Contact, remote_id: str, types: list[str]) -> None:
        for object_type in types:
            listed_from = timezone.now()
            items = self.connector.fetch_page(object_type, {"contactId": remote_id}).items
            self._compare_items(object_type, items, parent=contact)
            seen = {self._id(object_type, item) for item in items}
            model = mirror_model(object_type)
            child_ids = model.objects.filter(contact=contact).values("pk")
            links = Link.objects.filter(
                connection=self.connection, object_type=object_type, object_id__in=child_ids
            )
            self._check_links(object_type, links, seen, listed_from)

    # --- checks on our side -------------------------------------------------------------

    def _check_links(self, object_type: str, links, seen: set[str], listed_from) -> None:
        """Links the listing did not return: their record is gone remotely, or orphaned here.

        Only links settled before the listing began are judged: a create that got its remote
        id meanwhile, or a record with a push still waiting or in flight, may simply not be in
        what was listed — deleting it would lose a live record.
        """
        model = mirror_model(object_type)
        if object_type == "appointment":
            covered = _listed_appointments(self.connection.workspace_id, listed_from)
            links = links.filter(object_id__in=covered)
        busy = OutboundChange.objects.filter(
            connection=self.connection,
            object_type=object_type,
            status__in=[*WAITING, ChangeStatus.IN_FLIGHT],
        ).values("object_id")
        settled = links.filter(updated_at__lt=listed_from).exclude(object_id__in=busy)
        rows = settled.exclude(remote_id="").values_list("pk", "remote_id", "object_id")
        for link_id, remote_id, object_id in rows.iterator():
            if remote_id in seen:
                continue
            instance = model.objects.filter(pk=object_id).first()
            if instance is None:
                self.report.add("orphan_links", f"{object_type} link {link_id}")
                self._repair(lambda link_id=link_id: Link.objects.filter(pk=link_id).delete())
            elif not instance.is_deleted:
                self.report.add("deleted_remote", f"{object_type} {remote_id}")
                self._repair(lambda i=instance, r=remote_id: self._tombstone(object_type, r, i))

    def _tombstone(self, object_type: str, remote_id: str, instance: MirrorModel) -> None:
        """Gone at the remote: deleted here through the one inbound path (if permitted)."""
        change = RemoteChange(object_type, DELETE, remote_id, {})
        outcome = apply_remote_change(
            self.connection, change, actor=self.actor, found=(instance, None)
        )
        if outcome.status == InboundStatus.REFUSED:
            raise PermissionError(f"{object_type} {remote_id}: {outcome.result}")

    def _check_orphans(self, object_type: str, remote_ids: list[str], linked: dict) -> None:
        """Links of this page's remote ids whose mirror row is gone (removed before re-ingest)."""
        unlinked = [rid for rid in remote_ids if rid not in linked]
        orphans = (
            Link.objects.filter(
                connection=self.connection, object_type=object_type, remote_id__in=unlinked
            )
            .exclude(remote_id="")  # the partial unique index on remote_id
            .values_list("pk", flat=True)
        )
        for link_id in orphans:
            self.report.add("orphan_links", f"{object_type} link {link_id}")
            self._repair(lambda link_id=link_id: Link.objects.filter(pk=link_id).delete())

    def _check_never_pushed(self, object_type: str) -> None:
        if not self.connection.sends(object_type):
            return
        linked = Link.objects.filter(connection=self.connection, object_type=object_type)
        never = (
            mirror_model(object_type)
            .objects.live()
            .filter(workspace=self.connection.workspace)
            .exclude(pk__in=linked.values("object_id"))
        )
        for instance in never.iterator():
            if not passes_filters(self.connection, instance):
                continue
            self.report.add("never_pushed", f"{object_type} {instance.public_id}")
            self._queue_push(object_type, instance)

    def _differs(self, object_type: str, item: dict[str, Any], instance: MirrorModel) -> bool:
        try:
            return differs(instance, full_values(item, object_type, self.connection, instance))
        except MappingError:
            return True

    def _children_due(self, item: dict[str, Any]) -> bool:
        since = self.children_changed_since
        if since is not None:
            changed = self.connector.remote_updated_at("contact", item)
            if changed is not None and changed < since:
                return False
        return self._sampled()

    def _sampled(self) -> bool:
        return self.sample >= 100 or self.random.random() * 100 < self.sample

    # --- repairs ------------------------------------------------------------------------

    def _repair_missing_local(
        self, object_type: str, item: dict[str, Any], parent: Contact | None
    ) -> None:
        if object_type in CHILD_TYPES and parent is None:
            self._repair(lambda: _no_parent(object_type, item))
            return
        parents = {self._id(object_type, item): parent} if parent else None
        self._repair(lambda: self.ingestor.apply(object_type, [item], parents=parents))

    def _repair_different(
        self, object_type: str, item: dict[str, Any], instance: MirrorModel, parent
    ) -> None:
        parents = {self._id(object_type, item): parent} if parent else None

        def repair():
            tally = self.ingestor.apply(object_type, [item], parents=parents)
            current = type(instance).objects.get(pk=instance.pk)
            if not current.is_deleted and self._differs(object_type, item, current):
                self._new_push(object_type, current)  # what the mirror changed, not the remote
            return tally

        self._repair(repair)

    def _queue_push(self, object_type: str, instance: MirrorModel) -> None:
        self._repair(lambda: self._new_push(object_type, instance))

    def _new_push(self, object_type: str, instance: MirrorModel) -> None:
        """A push row; it sends the fields that differ from the link's snapshot (or, for a
        link without one, the whole state)."""
        change = OutboundChange.objects.create(
            connection=self.connection,
            object_type=object_type,
            object_id=instance.pk,
            audit_action="delete" if instance.is_deleted else "update",
            actor_label="reconcile",
        )
        transaction.on_commit(lambda: enqueue_pushes([change.pk]))

    def _repair(self, action) -> None:
        if not self.repair:
            return
        try:
            with transaction.atomic():
                result = action()
            failed = getattr(result, "failed", 0)
            if failed:
                self.report.repair_errors.extend(result.errors[:EXAMPLES_KEPT])
            else:
                self.report.repaired += 1
        except Exception as exc:  # one bad record must not stop the repair of the others
            if len(self.report.repair_errors) < EXAMPLES_KEPT:
                self.report.repair_errors.append(f"{type(exc).__name__}: {exc}"[:300])


def _listed_appointments(workspace_id: int, listed_from: datetime):
    """The workspace's appointments a whole listing covers (their start within its span)."""
    until = listed_from + APPOINTMENTS_AHEAD
    return Appointment.objects.filter(
        workspace_id=workspace_id, start_time__gte=APPOINTMENTS_FROM, start_time__lt=until
    ).values("pk")


def _no_parent(object_type: str, item: dict[str, Any]) -> None:
    raise LookupError(f"{object_type} {item.get('id')}: its contact is not in the portal")
