"""A batch's new records created together: a few statements for a run of creates, not a round
of them per event.

    steps(batch, parse) -> Iterator[Run | (event, parsed)]   the batch in order: runs of creates,
                                                              and events to apply one at a time
    create_together(run) -> (summaries, one_by_one)          write a run; what it left alone

An import at the CRM announces hundreds of new contacts in a burst. One at a time, each costs
three lookups (its Link, a delete that came first, our own create in flight), a transaction of
four INSERTs and the outcome's UPDATE. Together, a run of them costs those lookups once, one
transaction with one bulk insert per table (records, audit entries, Links, outbox rows: COPY on
PostgreSQL, contacts.services.mirror_bulk_create) and one UPDATE for the outcomes, which commit
with the records.

A delivery joins a run when it upserts a record that is not a task, note or appointment (those
may need their contact read from the CRM first), of the same connection and type as the run, and
nothing else in the batch names the same record (so the order of events of one record holds).
Every rule of the one-by-one path (sync/inbound/delivery.py) holds, read once for the run:

- a record we already have (by its Link) is no create: it goes the one-by-one way, after the
  run (no other event of the batch names it, so its order among them does not matter);
- a delete that arrived before its create: not created (ignored);
- our own create in flight: the event waits and is tried again (CreatesInFlight);
- the policy's permission to create, the fields it may write (refused);
- a record the write path's validation refuses fails alone; the others are created.

If the run's transaction fails (another worker linked one of its records meanwhile, or took one
of its e-mails; or anything else), nothing of it is kept and its events go the one-by-one way,
which then sees the other's records (and isolates whatever else broke the run).
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from contacts.services import NewRow, mirror_bulk_create
from portal.actors import Actor
from portal.bulk_insert import insert_rows
from sync.connectors import connector_class
from sync.engine.outbox import written_together
from sync.inbound import outcomes, policy
from sync.inbound.apply import UPSERT, Outcome, refused
from sync.inbound.delivery import NOT_CREATED_DELETED, CreatesInFlight, deleted_before
from sync.inbound.events import CHILD_TYPES, ParsedEvent
from sync.inbound.snapshot import new_link
from sync.inbound.values import mirror_values
from sync.models import Connection, InboundEvent, InboundStatus, Link
from sync.objects import mirror_model

logger = logging.getLogger(__name__)
Finished = tuple[InboundEvent, Outcome, str]


@dataclass
class Run:
    """Consecutive deliveries of one connection, each upserting a record nothing else in the
    batch names: each a create, unless its record turns out to be known."""

    connection: Connection
    object_type: str
    events: list[tuple[InboundEvent, ParsedEvent]] = field(default_factory=list)

    def takes(self, event: InboundEvent, parsed: ParsedEvent) -> bool:
        return event.connection_id == self.connection.pk and parsed.object_type == self.object_type


def steps(batch: list[InboundEvent], parse: Callable[[InboundEvent], ParsedEvent]) -> Iterator:
    """The batch in order: Runs of two or more possible creates, and (event, parsed) pairs to
    apply one at a time (parsed None: it did not parse; the one-by-one path records why)."""
    parsed = [(event, _parsed(event, parse)) for event in batch]
    named = Counter(_record(event, p) for event, p in parsed if p is not None)
    run: Run | None = None
    for event, p in parsed:
        if p is not None and named[_record(event, p)] == 1 and _may_join(event, p):
            if run is not None and run.takes(event, p):
                run.events.append((event, p))
                continue
            yield from _flushed(run)
            run = Run(event.connection, p.object_type, [(event, p)])
            continue
        yield from _flushed(run)
        run = None
        yield event, p
    yield from _flushed(run)


def _parsed(event: InboundEvent, parse: Callable[[InboundEvent], ParsedEvent]) -> Any:
    try:
        return parse(event)
    except Exception:  # parsed again one by one, which records why it failed
        return None


def _record(event: InboundEvent, parsed: ParsedEvent) -> tuple[int, str, str]:
    return event.connection_id, parsed.object_type, parsed.remote_id


def _may_join(event: InboundEvent, parsed: ParsedEvent) -> bool:
    if parsed.operation != UPSERT or parsed.object_type in CHILD_TYPES or not parsed.remote_id:
        return False
    source = _source(event.connection)
    return source.finds_by_link(parsed.object_type, parsed.remote_id)


def _flushed(run: Run | None) -> Iterator:
    if run is None:
        return
    if len(run.events) > 1:
        yield run
    else:
        yield from run.events


def _source(connection: Connection):
    return connector_class(connection.provider).inbound_source(connection)


def create_together(run: Run) -> tuple[list[str], list[tuple[InboundEvent, ParsedEvent]]]:
    """Create the run's new records in one transaction with their outcomes. Returns the
    summaries of the events it recorded and the events left to apply one at a time."""
    connection, object_type = run.connection, run.object_type
    remote_ids = [parsed.remote_id for _event, parsed in run.events]
    known = _linked(connection, object_type, remote_ids)
    deleted = deleted_before(connection, object_type, remote_ids)
    in_flight = CreatesInFlight(connection, object_type)
    source = _source(connection)
    summaries: list[str] = []
    one_by_one, decided, creates = [], [], []
    for event, parsed in run.events:
        if parsed.remote_id in known:
            one_by_one.append((event, parsed))
        elif parsed.remote_id in deleted:
            decided.append((event, NOT_CREATED_DELETED, ""))
        else:
            try:
                creates.append(_new_record(connection, source, in_flight, event, parsed))
            except _Decided as answer:
                decided.append((event, answer.outcome, ""))
            except Exception as exc:  # recorded as the one-by-one path would
                summaries.append(outcomes.failure(event, exc))
    try:
        with transaction.atomic(), written_together():
            finished = decided + _write(connection, object_type, creates)
            summaries += outcomes.record_together(finished)
    except IntegrityError:
        # Another writer linked one of these records (or took an e-mail) meanwhile.
        return summaries, one_by_one + _pending(run, decided, creates)
    except Exception:
        # Nothing of the run was kept: one by one, whatever broke it fails alone.
        logger.warning("Creating %s new records together failed", len(creates), exc_info=True)
        return summaries, one_by_one + _pending(run, decided, creates)
    return summaries, one_by_one


class _Decided(Exception):
    """An event answered without writing (refused by the policy)."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


@dataclass
class _Create:
    event: InboundEvent
    parsed: ParsedEvent
    values: dict[str, Any]  # as mapped, empty ones included (the Link's snapshot says so)


def _new_record(
    connection: Connection, source, in_flight: CreatesInFlight, event, parsed: ParsedEvent
) -> _Create:
    """What one-by-one would create for this event (raising what it would raise)."""
    parsed = source.complete(parsed)
    values = source.values(parsed, None)
    in_flight.check(values.get("email"))
    given = {name: value for name, value in values.items() if value is not None}
    reason = policy.refusal(connection, parsed.object_type, policy.CREATE, None, given)
    if reason:
        raise _Decided(refused(reason))
    parsed.source_updated_at = policy.clamped(parsed.source_updated_at)
    return _Create(event, parsed, values)


def _write(connection: Connection, object_type: str, creates: list[_Create]) -> list[Finished]:
    """The records, their audit entries and outbox rows, and their Links; each event's outcome."""
    if not creates:
        return []
    actor = Actor.connection(connection, source="webhook")
    rows = [
        NewRow({k: v for k, v in c.values.items() if v is not None}, c.parsed.source_updated_at)
        for c in creates
    ]
    results = mirror_bulk_create(
        mirror_model(object_type), workspace=connection.workspace, actor=actor, rows=rows
    )
    finished: list[Finished] = []
    links = []
    for create, result in zip(creates, results, strict=True):
        if isinstance(result, ValidationError):
            failed = Outcome(InboundStatus.FAILED, "")
            finished.append((create.event, failed, outcomes.describe(result)))
            continue
        links.append(_link(connection, object_type, create, result))
        created = Outcome(InboundStatus.PROCESSED, f"created {result.public_id}")
        finished.append((create.event, created, ""))
    insert_rows(Link, links)
    return finished


def _link(connection: Connection, object_type: str, create: _Create, obj) -> dict[str, Any]:
    """The new Link, with a snapshot of what the remote sent as stored (normalised)."""
    seen = mirror_values(obj, create.values)
    parsed = create.parsed
    return new_link(
        connection, object_type, obj.pk, parsed.remote_id, seen, parsed.source_updated_at
    )


def _linked(connection: Connection, object_type: str, remote_ids: list[str]) -> set[str]:
    """Which of these records we already have (their Links: one query)."""
    return set(
        Link.objects.filter(
            connection=connection, object_type=object_type, remote_id__any_of=remote_ids
        )
        .exclude(remote_id="")  # lets SQLite use the partial unique index on remote_id
        .values_list("remote_id", flat=True)
    )


def _pending(run: Run, decided: list[Finished], creates: list[_Create]) -> list:
    """The run's events whose outcome the failed transaction did not record."""
    waiting = {event.pk for event, _outcome, _error in decided} | {c.event.pk for c in creates}
    return [(event, parsed) for event, parsed in run.events if event.pk in waiting]
