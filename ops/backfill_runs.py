"""Backfill runs: which objects, starting one or resuming a connection's unfinished one (its
lease taken), and a finished run's summary. Executing a run is ops/backfill.py's.

    run, resumed = start_run(connection, objects, since=..., business=..., propagate=...,
                             restart=...)
"""

import secrets
from collections.abc import Iterator
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ops.backfill_fetch import phases_for
from ops.models import UNFINISHED, BackfillRun, RunStatus
from sync.connectors import connector_for
from sync.engine.leases import lease_until
from sync.models import Connection

OBJECT_TYPES = ("user", "contact", "task", "note", "appointment")
CHILD_TYPES = ("task", "note", "appointment")


class BackfillError(Exception):
    """A backfill cannot start or continue (bad options, permanent remote error)."""


class OtherOptions(BackfillError):
    """The connection's unfinished run was started with other options (see --restart)."""


def parse_objects(text: str) -> list[str]:
    """ "contacts,tasks" → ["contact", "task"] in phase order; ValueError for unknown names."""
    names = [name.strip().lower().removesuffix("s") for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(OBJECT_TYPES))
    if unknown or not names:
        raise ValueError(
            f"Unknown object type(s) {', '.join(unknown) or '(none given)'}; "
            "choose from contacts, tasks, notes, appointments, users."
        )
    return [t for t in OBJECT_TYPES if t in names]


def check_listable(connection: Connection, objects: list[str]) -> None:
    """ValueError unless the connection's connector can list every requested type."""
    connector = connector_for(connection)
    can_list = connector.listable_types | connector.per_contact_types  # notes: per contact
    cannot = [t for t in objects if t not in can_list]
    if cannot:
        listed = ", ".join(f"{t}s" for t in OBJECT_TYPES if t in can_list) or "nothing"
        raise ValueError(
            f"{connection} cannot list {', '.join(f'{t}s' for t in cannot)} "
            f"(it lists: {listed}; a REST connection lists what its config has a list for)."
        )


def start_run(
    connection: Connection,
    objects: list[str],
    *,
    since: datetime | None = None,
    business: str = "",
    propagate: bool = False,
    restart: bool = False,
) -> tuple[BackfillRun, bool]:
    """The run to execute (its lease held by the caller) and whether it resumes one."""
    try:
        check_listable(connection, objects)
    except ValueError as exc:
        raise BackfillError(str(exc)) from exc
    token = secrets.token_hex(16)
    try:
        with transaction.atomic():
            current = unfinished_run(
                connection, objects, since, propagate, business=business, restart=restart
            )
            if current is not None:
                _claim(current, token)
                return current, True
            run = BackfillRun.objects.create(
                connection=connection,
                objects_requested=objects,
                since=since,
                business_id=business,
                propagate=propagate,
                phase=first_phase(objects),
                lease_token=token,
                lease_until=lease_until(),
            )
            return run, False
    except IntegrityError as exc:  # another process created the connection's run just now
        raise BackfillError(f"A backfill of {connection} is starting elsewhere.") from exc


def unfinished_run(
    connection: Connection,
    objects: list[str],
    since: datetime | None,
    propagate: bool,
    *,
    business: str = "",
    restart: bool = False,
) -> BackfillRun | None:
    """The connection's unfinished run to resume (None: start one); BackfillError when one is
    running in a live process, or was started with other options and `restart` is not given."""
    current = (
        BackfillRun.objects.select_for_update().filter(connection=connection, status__in=UNFINISHED)
    ).first()
    if current is None:
        return None
    if current.lease_until is not None and current.lease_until > timezone.now():
        raise BackfillError(
            f"Backfill #{current.pk} of this connection is running (in another process or "
            "task); it is refused while that one runs."
        )
    if restart:
        BackfillRun.objects.filter(pk=current.pk).update(
            status=RunStatus.ABANDONED, finished_at=timezone.now(), lease_token=""
        )
        return None
    if (current.objects_requested, current.since, current.business_id, current.propagate) != (
        objects,
        since,
        business,
        propagate,
    ):
        raise OtherOptions(
            f"Backfill #{current.pk} of this connection is unfinished with other options "
            f"(objects {','.join(current.objects_requested)}, since {current.since}, "
            f"business {current.business_id or '-'}, propagate {current.propagate}); "
            "resume it with those, or give --restart."
        )
    return current


def _claim(run: BackfillRun, token: str) -> None:
    """Take the run's lease, unless a process took it since it was read (then refuse)."""
    now = timezone.now()
    claimed = (
        BackfillRun.objects.filter(pk=run.pk)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .update(status=RunStatus.RUNNING, lease_token=token, lease_until=lease_until(now))
    )
    if not claimed:
        raise BackfillError(f"Backfill #{run.pk} of this connection is running elsewhere.")
    run.status, run.lease_token = RunStatus.RUNNING, token


def first_phase(objects: list[str]) -> str:
    return phases_for(objects)[0]


def dry_run(
    connection: Connection, objects: list[str], since: datetime | None = None, business: str = ""
) -> BackfillRun:
    """An unsaved run: executing it writes nothing (each page is rolled back)."""
    return BackfillRun(
        connection=connection,
        objects_requested=objects,
        since=since,
        business_id=business,
        phase=first_phase(objects),
    )


def check_business_objects(objects: list[str], business: str) -> None:
    if business and "appointment" in objects:
        raise ValueError(
            "--business narrows contacts, notes and tasks; the CRM lists appointments per "
            "location only: leave appointments out."
        )


def notes_known_until(connection: Connection) -> datetime | None:
    """When the last complete run that listed every contact's notes began: a contact the CRM
    reports unchanged since has had its notes listed then."""
    runs = BackfillRun.objects.filter(connection=connection, status=RunStatus.DONE, since=None)
    for started_at, objects in runs.order_by("-started_at").values_list(
        "started_at", "objects_requested"
    ):
        if "note" in objects:
            return started_at
    return None


def iter_summary(run: BackfillRun) -> Iterator[str]:
    yield (
        f"created {run.created}, updated {run.updated}, unchanged {run.unchanged}, "
        f"failed {run.failed} ({run.pages} page(s))"
    )
    for error in run.errors[:10]:
        yield f"  failed: {error}"
