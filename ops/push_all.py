"""First sync outward: queue every live mirror record of the chosen types for one connection.

    run, resumed = start_run(connection, objects, since=..., started_by=...)
    PushAll(run, progress=callback).execute() -> PushAllRun
    preview(connection, objects, since) -> PushAllTally       (dry run: writes nothing)
    delivery(run) -> {status: count}                          (how its outbox rows are doing)

A new connection otherwise only receives changes made after it was added. Records are queued
through the outbox, so filter rules, mappings, coalescing, retries and the connection's rate
limit all apply as for any other change. Queuing goes in id order, one batch per transaction:
the batch's outbox rows, its links and the run's checkpoint (object type, last id) commit
together, so a run killed at any moment resumes after its last committed batch and queues
nothing twice. Delivery is the push engine's, which survives killed workers (leases).

Nothing is created twice at a remote that already holds a record: a record not linked to the
connection yet gets an empty Link first — the engine's mark for "a create whose outcome is
unknown" — so the engine looks it up at the remote (the CRM by e-mail or phone, the
notification platform by subscriber id, …) and updates what it finds instead of creating.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from contacts.models import MirrorModel
from ops.models import UNFINISHED, PushAllRun, RunStatus
from sync.engine.outbox import enqueue_pushes
from sync.mapping.rules import passes_filters
from sync.models import Connection, Link, OutboundChange
from sync.objects import mirror_model

OBJECT_TYPES = ("user", "contact", "task", "note", "appointment")  # parents before children
BATCH = 500


class PushAllError(Exception):
    """A first sync cannot start (bad options, another run of other options unfinished)."""


def parse_objects(text: str | None, connection: Connection) -> list[str]:
    """ "contacts,tasks" → ["contact", "task"]; none given: every type the connection sends."""
    if not text:
        names = [t for t in OBJECT_TYPES if connection.sends(t)]
    else:
        names = [n.strip().lower().removesuffix("s") for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(OBJECT_TYPES))
    if unknown or not names:
        raise ValueError(
            f"Unknown object type(s) {', '.join(unknown) or '(none given)'}; "
            "choose from users, contacts, tasks, notes, appointments."
        )
    not_sent = [t for t in names if not connection.sends(t)]
    if not_sent:
        raise ValueError(
            f"{connection.name} does not receive {', '.join(t + 's' for t in not_sent)} "
            "(see its directions)."
        )
    return [t for t in OBJECT_TYPES if t in names]


@dataclass
class PushAllTally:
    queued: int = 0
    filtered: int = 0
    to_look_up: int = 0
    per_type: dict[str, int] = field(default_factory=dict)

    def add(self, object_type: str, queued: int, filtered: int, to_look_up: int) -> None:
        self.queued += queued
        self.filtered += filtered
        self.to_look_up += to_look_up
        self.per_type[object_type] = self.per_type.get(object_type, 0) + queued


def start_run(
    connection: Connection,
    objects: list[str],
    *,
    since: datetime | None = None,
    started_by: str = "",
) -> tuple[PushAllRun, bool]:
    """The run to execute and whether it resumes an unfinished one (same options only)."""
    with transaction.atomic():
        current = (
            PushAllRun.objects.select_for_update()
            .filter(connection=connection, status__in=UNFINISHED)
            .first()
        )
        if current is not None:
            if (current.objects_requested, current.since) != (objects, since):
                raise PushAllError(
                    f"First sync #{current.pk} of this connection is unfinished with other "
                    f"options (objects {','.join(current.objects_requested)}, since "
                    f"{current.since}); run it with those to resume it."
                )
            PushAllRun.objects.filter(pk=current.pk).update(status=RunStatus.RUNNING)
            current.status = RunStatus.RUNNING
            return current, True
        run = PushAllRun.objects.create(
            connection=connection,
            objects_requested=objects,
            since=since,
            phase=objects[0],
            started_by=started_by[:200],
        )
        return run, False


def records(connection: Connection, object_type: str, since: datetime | None) -> QuerySet:
    """The live records of the connection's workspace, oldest id first."""
    queryset = (
        mirror_model(object_type)
        .objects.live()
        .filter(workspace_id=connection.workspace_id)
        .order_by("pk")
    )
    return queryset.filter(updated_at__gte=since) if since else queryset


def _batches(queryset: QuerySet, after_id: int) -> Iterable[list[MirrorModel]]:
    while True:
        batch = list(queryset.filter(pk__gt=after_id)[:BATCH])
        if not batch:
            return
        yield batch
        after_id = batch[-1].pk


def _split(connection: Connection, batch: list[MirrorModel]) -> tuple[list, list]:
    sent = [obj for obj in batch if passes_filters(connection, obj)]
    return sent, [obj for obj in batch if obj not in sent]


def _unlinked(connection: Connection, object_type: str, objs: list[MirrorModel]) -> list[int]:
    ids = [obj.pk for obj in objs]
    linked = set(
        Link.objects.filter(
            connection=connection, object_type=object_type, object_id__in=ids
        ).values_list("object_id", flat=True)
    )
    return [pk for pk in ids if pk not in linked]


def preview(
    connection: Connection, objects: list[str], since: datetime | None = None
) -> PushAllTally:
    """What a run would queue; writes nothing and calls no remote."""
    connection = Connection.objects.prefetch_related("rules").get(pk=connection.pk)
    tally = PushAllTally()
    for object_type in objects:
        for batch in _batches(records(connection, object_type, since), 0):
            sent, left_out = _split(connection, batch)
            unlinked = _unlinked(connection, object_type, sent)
            tally.add(object_type, len(sent), len(left_out), len(unlinked))
    return tally


class PushAll:
    def __init__(self, run: PushAllRun, *, progress: Callable[[int], None] | None = None) -> None:
        self.run = run
        self.connection = Connection.objects.prefetch_related("rules").get(pk=run.connection_id)
        self.progress = progress or (lambda records: None)

    def total(self) -> int:
        """Records still to look at (for a progress bar)."""
        run, count = self.run, 0
        for object_type in run.objects_requested[run.objects_requested.index(run.phase) :]:
            after = run.last_id if object_type == run.phase else 0
            count += records(self.connection, object_type, run.since).filter(pk__gt=after).count()
        return count

    def execute(self) -> PushAllRun:
        try:
            while self.run.phase:
                self._queue_phase(self.run.phase)
        except Exception as exc:
            self._finish(RunStatus.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        self._finish(RunStatus.DONE)
        return self.run

    def _queue_phase(self, object_type: str) -> None:
        queryset = records(self.connection, object_type, self.run.since)
        for batch in _batches(queryset, self.run.last_id):
            self._queue_batch(object_type, batch)
            self.progress(len(batch))
        objects = self.run.objects_requested
        following = objects[objects.index(object_type) + 1 :]
        self._checkpoint(phase=following[0] if following else "", last_id=0)

    def _queue_batch(self, object_type: str, batch: list[MirrorModel]) -> None:
        sent, left_out = _split(self.connection, batch)
        with transaction.atomic():
            unlinked = _unlinked(self.connection, object_type, sent)
            Link.objects.bulk_create(
                (
                    Link(connection=self.connection, object_type=object_type, object_id=pk)
                    for pk in unlinked
                ),
                ignore_conflicts=True,  # a push may have linked one meanwhile: keep its link
            )
            rows = OutboundChange.objects.bulk_create(
                self._change(object_type, obj.pk) for obj in sent
            )
            self.run.queued += len(rows)
            self.run.filtered += len(left_out)
            self.run.to_look_up += len(unlinked)
            self._checkpoint(phase=object_type, last_id=batch[-1].pk)
            ids = [row.pk for row in rows]
            transaction.on_commit(lambda: enqueue_pushes(ids))

    def _change(self, object_type: str, object_id: int) -> OutboundChange:
        return OutboundChange(
            connection=self.connection,
            object_type=object_type,
            object_id=object_id,
            audit_action="push_all",
            actor_label=f"first sync #{self.run.pk} ({self.run.started_by})"[:200],
            request_id=self.run.request_id,
        )

    def _checkpoint(self, *, phase: str, last_id: int) -> None:
        run = self.run
        run.phase, run.last_id = phase, last_id
        PushAllRun.objects.filter(pk=run.pk).update(
            phase=phase,
            last_id=last_id,
            queued=run.queued,
            filtered=run.filtered,
            to_look_up=run.to_look_up,
            updated_at=timezone.now(),
        )

    def _finish(self, status: str, error: str = "") -> None:
        PushAllRun.objects.filter(pk=self.run.pk).update(
            status=status, last_error=error[:2000], finished_at=timezone.now()
        )
        self.run.refresh_from_db()


def delivery(run: PushAllRun) -> dict[str, int]:
    """Its outbox rows by status (a coalesced row rode along with a later push of its record)."""
    rows = (
        OutboundChange.objects.filter(connection_id=run.connection_id, request_id=run.request_id)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def summary(run: PushAllRun) -> str:
    counts = delivery(run)
    done = counts.get("done", 0) + counts.get("coalesced", 0)
    waiting = sum(counts.get(s, 0) for s in ("pending", "retrying", "in_flight"))
    failed = counts.get("failed", 0) + counts.get("dead", 0)
    return (
        f"queued {run.queued} ({run.to_look_up} looked up at the remote before any create), "
        f"left out by rules {run.filtered}; delivered {done}, waiting {waiting}, failed {failed}"
    )
