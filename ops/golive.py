"""The go-live check of one connection: a clearly marked test record per enabled object type,
pushed, read back, compared field by field through the mappings, and deleted.

    go_live_check(connection, actor=..., confirmed=False) -> GoLiveReport

Test records are written through the write path as `actor` but with fan-out suppressed, so no
other connection ever sees them; each push and delete runs through the push engine (one outbox
row, processed here and now), so the check exercises exactly what production does. Records are
read back where the connector can read one (`fetch_record`, the CRM); each value the mapping sent
is compared with what the remote holds at the same path, so a mapping that loses a field shows.
Afterwards the records are deleted at the remote and purged from the mirror. A connector that
cannot delete remotely leaves its test records behind: the check refuses to run there unless
the operator confirms (`CannotCleanUp`).
"""

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone

from contacts.erasure import purge_tombstones
from contacts.models import MirrorModel
from contacts.services import mirror_create, mirror_delete
from ops.golive_compare import compare
from portal.actors import Actor
from sync.connectors import connector_class, connector_for
from sync.connectors.base import Connector
from sync.engine.outbox import outbound_suppressed
from sync.engine.push import process_change
from sync.models import ChangeStatus, Connection, Link, OutboundChange
from sync.objects import mirror_model
from sync.transport.http import RemoteError

MARK = "portal-go-live-test"
ORDER = ("user", "contact", "task", "note", "appointment")  # parents first
CHILDREN = ("task", "note", "appointment")
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


class CannotCleanUp(Exception):
    """The connector cannot delete remotely: the test records would stay there."""


@dataclass
class Step:
    object_type: str
    name: str
    outcome: str
    detail: str = ""


@dataclass
class GoLiveReport:
    connection: Connection
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.outcome != FAILED for step in self.steps)

    def add(self, object_type: str, name: str, outcome: str, detail: str = "") -> bool:
        self.steps.append(Step(object_type, name, outcome, detail))
        return outcome == OK


def can_clean_up(connection: Connection) -> bool:
    return connector_class(connection.provider).delete_remote is not Connector.delete_remote


def can_read(connection: Connection, object_type: str = "contact") -> bool:
    """Whether the connector reads a record back (a REST connection: where it has a get)."""
    connector = connector_for(connection)
    readable = getattr(connector, "readable_types", None)  # computed from a REST config
    return hasattr(connector, "fetch_record") and (readable is None or object_type in readable)


def go_live_check(connection: Connection, *, actor: Actor, confirmed: bool = False) -> GoLiveReport:
    if not can_clean_up(connection) and not confirmed:
        raise CannotCleanUp(
            f"The {connection.get_provider_display()} connector cannot delete records: the "
            "check's test records would stay at the remote. Confirm to run it anyway."
        )
    return GoLiveCheck(connection, actor).run()


class GoLiveCheck:
    def __init__(self, connection: Connection, actor: Actor) -> None:
        self.connection = connection
        self.actor = actor
        self.report = GoLiveReport(connection)
        self.records: dict[str, MirrorModel] = {}
        self.stamp = f"{timezone.now():%Y%m%d%H%M%S}{random.randint(1000, 9999)}"

    def run(self) -> GoLiveReport:
        types = [t for t in ORDER if self.connection.sends(t)]
        if not types:
            self.report.add("-", "choose types", FAILED, "The connection receives no type.")
        try:
            for object_type in types:
                try:
                    self._check(object_type)
                except Exception as exc:  # the report says what broke; clean-up still runs
                    self.report.add(object_type, "check", FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            self._clean_up()
        return self.report

    def _check(self, object_type: str) -> None:
        obj = self._create(object_type)
        if obj is None or not self._push(object_type, obj, "push"):
            return
        if self.connection.dry_run:
            self.report.add(object_type, "read back", SKIPPED, "Sandbox mode: nothing was sent.")
            return
        if not can_read(self.connection, object_type):
            self.report.add(object_type, "read back", SKIPPED, "The connector cannot read.")
            return
        remote = self._read_back(object_type, obj)
        if remote is not None:
            lost = compare(obj, remote, self.connection)
            detail = "; ".join(lost) or "every mapped field came back the same"
            self.report.add(object_type, "compare", FAILED if lost else OK, detail)

    # --- steps ---------------------------------------------------------------------------

    def _create(self, object_type: str) -> MirrorModel | None:
        data = self._test_data(object_type)
        if data is None:
            return None
        with outbound_suppressed():  # no other connection may see a test record
            obj = mirror_create(
                mirror_model(object_type),
                workspace=self.connection.workspace,
                actor=self.actor,
                data=data,
            )
        self.records[object_type] = obj
        self.report.add(object_type, "create test record", OK, obj.public_id)
        return obj

    def _push(self, object_type: str, obj: MirrorModel, step: str) -> bool:
        change = OutboundChange.objects.create(
            connection=self.connection,
            object_type=object_type,
            object_id=obj.pk,
            audit_action="delete" if obj.is_deleted else "create",
            actor_label=f"go-live check ({self.actor.label})"[:200],
        )
        result = process_change(change.pk)
        change.refresh_from_db()
        if change.status == ChangeStatus.DONE:
            return self.report.add(object_type, step, OK, result)
        return self.report.add(object_type, step, FAILED, change.last_error or result)

    def _read_back(self, object_type: str, obj: MirrorModel) -> dict[str, Any] | None:
        contact_id = self._remote_id("contact", getattr(obj, "contact_id", None))
        try:
            remote = connector_for(self.connection).fetch_record(
                object_type, self._remote_id(object_type, obj.pk), contact_id
            )
        except RemoteError as exc:
            self.report.add(object_type, "read back", FAILED, exc.message)
            return None
        if remote is None:
            self.report.add(object_type, "read back", FAILED, "The remote no longer has it.")
            return None
        self.report.add(object_type, "read back", OK, f"{len(remote)} field(s)")
        return remote

    def _remote_id(self, object_type: str, object_id: int | None) -> str:
        link = Link.objects.filter(
            connection=self.connection, object_type=object_type, object_id=object_id
        ).first()
        return link.remote_id if link else ""

    def _clean_up(self) -> None:
        deletes = can_clean_up(self.connection)
        for object_type in reversed(ORDER):
            obj = self.records.get(object_type)
            if obj is None:
                continue
            with outbound_suppressed():
                obj, _deleted = mirror_delete(obj, actor=self.actor)
            remote_id = self._remote_id(object_type, obj.pk)
            if not remote_id:
                self.report.add(object_type, "delete", SKIPPED, "Never reached the remote.")
            elif deletes:
                self._push(object_type, obj, "delete")
            else:
                self.report.add(object_type, "delete", SKIPPED,
                                f"Delete it by hand at the remote: id {remote_id}.")  # fmt: skip
            self._purge(object_type, obj)

    def _purge(self, object_type: str, obj: MirrorModel) -> None:
        if object_type == "contact":
            for child in CHILDREN:  # tombstones of children another check step did not make
                model = mirror_model(child)
                ids = list(model.objects.filter(contact=obj).values_list("pk", flat=True))
                purge_tombstones(model, ids)
        Link.objects.filter(
            connection=self.connection, object_type=object_type, object_id=obj.pk
        ).delete()
        OutboundChange.objects.filter(object_type=object_type, object_id=obj.pk).delete()
        purge_tombstones(type(obj), [obj.pk])

    # --- the test records ----------------------------------------------------------------

    def _test_data(self, object_type: str) -> dict[str, Any] | None:
        now = timezone.now().replace(microsecond=0)
        contact = self.records.get("contact")
        if object_type in CHILDREN and contact is None:
            self.report.add(object_type, "create test record", SKIPPED,
                            "Needs a test contact: enable contacts on the connection.")  # fmt: skip
            return None
        name = {"first_name": "Go-live", "last_name": f"Test {self.stamp}"}
        if object_type == "user":
            email = f"{MARK}-user-{self.stamp}@example.com"
            locations = [self.connection.location_id] if self.connection.location_id else []
            return {**name, "email": email, "location_ids": locations}
        if object_type == "contact":
            return {
                **name,
                "email": f"{MARK}-{self.stamp}@example.com",
                "phone": f"+1555010{self.stamp[-4:]}",
                "company_name": "Portal go-live check",
                "city": "Testville",
                "website": "https://example.com/go-live",
                "tags": [MARK],
                "source": "portal go-live check",
            }
        if object_type == "task":
            return {"contact": contact, "title": f"[{MARK}] please ignore",
                    "body": "Made and deleted by the portal's go-live check.",
                    "due_date": now + timedelta(days=1)}  # fmt: skip
        if object_type == "note":
            return {"contact": contact, "body": f"[{MARK}] made and deleted by the go-live check"}
        return self._appointment_data(contact, now)

    def _appointment_data(self, contact: MirrorModel, now) -> dict[str, Any] | None:
        calendar = (self.connection.options or {}).get("go_live_calendar_id")
        if not calendar:
            self.report.add("appointment", "create test record", SKIPPED,
                            'Set options {"go_live_calendar_id": "<a calendar id>"} on the '
                            "connection to check appointments.")  # fmt: skip
            return None
        start = now + timedelta(days=2)
        return {"contact": contact, "calendar_id": calendar, "title": f"[{MARK}] please ignore",
                "start_time": start, "end_time": start + timedelta(minutes=30)}  # fmt: skip
