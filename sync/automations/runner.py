"""Running automation steps the way the push engine runs outbox rows (sync/engine/push.py).

    process_step(step_id, now=None) -> str     claim and run one step (the django-q2 task)
    sweep(now=None) -> dict                    expired leases → retry/dead; due steps → enqueued
    drain(now=None) -> dict                    run every due step in this process (ops, tests)
    replay(steps) -> int                       failed/dead steps start over; their run goes on

A step is claimed with a conditional UPDATE (waiting → in flight, attempts + 1, a lease and a
token); only the holder of the lease may finish it. Attempts are counted at claim time, so a
step that kills its worker reaches DEAD after SYNC_MAX_ATTEMPTS claims. Its inputs are
rendered when it runs (earlier steps' outputs are known then); every remote answer is saved on
the step as it arrives (sync/automations/actions/StepCall), so a re-run has its effect once.
When a step finishes, the next one of its run becomes due; when one fails for good, the rest
are skipped. `now` can be injected (tests move the clock past a lease).
"""

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from sync.automations.actions import action_spec
from sync.automations.actions.base import ActionError, StepCall, check_required
from sync.automations.context import jsonable, with_links
from sync.automations.templating import TemplateError, render
from sync.connectors import connector_class, connector_for
from sync.engine import queue
from sync.engine.queue import backoff_seconds
from sync.mapping.transforms import MappingError
from sync.models import (
    STEP_WAITING,
    AutomationRun,
    AutomationStep,
    Mode,
    RunStatus,
    StepStatus,
)
from sync.transport.http import RemoteError

logger = logging.getLogger(__name__)
PERMANENT = (ActionError, TemplateError, MappingError, ValidationError, ObjectDoesNotExist)


def process_step(step_id: int, *, now: datetime | None = None) -> str:
    step = claim_step(step_id, now=now)
    if step is None:
        return "not claimed"
    return execute_step(step, now=now)


def claim_step(step_id: int, *, now: datetime | None = None) -> AutomationStep | None:
    now = now or timezone.now()
    claimed = AutomationStep.objects.filter(
        pk=step_id,
        status__in=STEP_WAITING,
        available_at__lte=now,
        attempts__lt=settings.SYNC_MAX_ATTEMPTS,
    ).update(
        status=StepStatus.IN_FLIGHT,
        attempts=F("attempts") + 1,
        lease_token=uuid.uuid4().hex,
        lease_until=now + timedelta(seconds=settings.SYNC_LEASE_SECONDS),
    )
    if not claimed:
        return None
    return AutomationStep.objects.select_related("run__automation", "connection", "action").get(
        pk=step_id
    )


def execute_step(step: AutomationStep, *, now: datetime | None = None) -> str:
    run = step.run
    if run.automation.mode == Mode.OFF and not run.dry_run:
        _finish(step, StepStatus.SKIPPED, now, last_error="The automation was disabled.")
        _end_run(run, RunStatus.FAILED, now)
        return "skipped: automation disabled"
    try:
        output = _run_action(step)
    except RemoteError as exc:
        return _failed(step, exc, now)
    except PERMANENT as exc:
        return _failed(step, RemoteError(f"{type(exc).__name__}: {exc}", permanent=True), now)
    except Exception as exc:
        logger.exception("Automation step %s crashed", step.pk)
        return _failed(step, RemoteError(f"{type(exc).__name__}: {exc}", permanent=False), now)
    status = StepStatus.DRY_RUN if run.dry_run else StepStatus.DONE
    with transaction.atomic():
        if _finish(step, status, now, output=jsonable(output), last_error=""):
            _advance(step, now)
    if not run.dry_run:
        step.connection.record_success()
    return f"{status}: {step.operation}"


def _run_action(step: AutomationStep) -> dict[str, Any]:
    connection = step.connection
    if not connection.active or connection.deleted_at:
        raise RemoteError("The connection is inactive or deleted.", permanent=True)
    if step.action is None:
        raise ActionError("The automation's action was removed.")
    if connection.workspace_id != step.run.workspace_id:
        raise ActionError("The action's connection belongs to another workspace: refused.")
    spec = action_spec(connection.provider, step.operation)
    inputs = render(step.action.inputs or {}, step_context(step))
    step.inputs = jsonable(inputs)
    AutomationStep.objects.filter(pk=step.pk, lease_token=step.lease_token).update(
        inputs=step.inputs
    )
    check_required(spec, inputs)
    call = StepCall(step, connector_for(connection), dry_run=step.run.dry_run)
    output = spec.run(call, inputs) or {}
    if step.run.dry_run:
        # Nothing was sent, so nothing came back: name what the next steps would receive.
        for name in spec.outputs:
            if output.get(name) in (None, ""):
                output[name] = f"<{name} from step {step.position}>"
    return output


def step_context(step: AutomationStep) -> dict[str, Any]:
    """The run's snapshot, the records' remote ids now, and earlier steps' outputs."""
    earlier = AutomationStep.objects.filter(run_id=step.run_id, position__lt=step.position)
    outputs = {str(pos): out for pos, out in earlier.values_list("position", "output")}
    context = with_links(step.run.context or {}, step.run.workspace_id)
    return {**context, "steps": outputs}


def _failed(step: AutomationStep, error: RemoteError, now: datetime | None) -> str:
    if not step.run.dry_run:
        step.connection.record_error(error.message)
    common = {"last_error": error.message[:2000]}
    if error.permanent or step.run.dry_run:  # a dry run reports at once, it never waits
        return _give_up(step, StepStatus.FAILED, now, common, "failed")
    schedule = connector_class(step.connection.provider).retry_schedule
    if step.attempts >= (len(schedule) if schedule else settings.SYNC_MAX_ATTEMPTS):
        logger.error("ALERT: automation step %s is dead after %s attempts", step.pk, step.attempts)
        return _give_up(step, StepStatus.DEAD, now, common, "dead")
    delay = (
        max(schedule[step.attempts], error.retry_after or 0.0)
        if schedule
        else backoff_seconds(step.attempts, error.retry_after)
    )
    available_at = (now or timezone.now()) + timedelta(seconds=delay)
    _finish(step, StepStatus.RETRYING, now, available_at=available_at, completed=False, **common)
    return f"retry in {delay:.0f} s: {error.message}"


def _give_up(step, status, now, common, word) -> str:
    with transaction.atomic():
        if _finish(step, status, now, **common):
            _skip_rest(step)
            _end_run(step.run, RunStatus.FAILED, now)
    return f"{word}: {common['last_error']}"


def _finish(
    step: AutomationStep, status: str, now: datetime | None, *, completed: bool = True, **fields
) -> bool:
    """Only the holder of the lease moves the step on (a stale worker changes nothing)."""
    if completed:
        fields["completed_at"] = now or timezone.now()
    return bool(
        AutomationStep.objects.filter(
            pk=step.pk, status=StepStatus.IN_FLIGHT, lease_token=step.lease_token
        ).update(status=status, lease_token="", lease_until=None, enqueued_at=None, **fields)
    )


def _advance(step: AutomationStep, now: datetime | None) -> None:
    following = AutomationStep.objects.filter(
        run_id=step.run_id, position=step.position + 1, status=StepStatus.BLOCKED
    )
    next_id = following.values_list("pk", flat=True).first()
    if next_id is None:
        status = RunStatus.DRY_RUN if step.run.dry_run else RunStatus.DONE
        _end_run(step.run, status, now)
        return
    following.update(status=StepStatus.PENDING, available_at=now or timezone.now())
    transaction.on_commit(lambda: enqueue_steps([next_id]))


def _skip_rest(step: AutomationStep) -> None:
    AutomationStep.objects.filter(
        run_id=step.run_id, position__gt=step.position, status=StepStatus.BLOCKED
    ).update(status=StepStatus.SKIPPED)


def _end_run(run: AutomationRun, status: str, now: datetime | None) -> None:
    AutomationRun.objects.filter(pk=run.pk).update(
        status=status, completed_at=now or timezone.now()
    )


# --- queueing, sweeper, drain, replay ------------------------------------------------------


STEP_TASK = "sync.tasks.run_automation_step"  # by name: sync/tasks.py imports this module


def enqueue_steps(step_ids: list[int]) -> None:
    """Hand steps to django-q2. Losing this is harmless: the sweeper enqueues due steps."""
    for step_id in step_ids:
        try:
            queue.enqueue(STEP_TASK, step_id, group="sync-automations")
        except Exception:
            logger.exception("Could not enqueue automation step %s; the sweeper will.", step_id)
            continue
        AutomationStep.objects.filter(pk=step_id).update(enqueued_at=timezone.now())


def release_expired_leases(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    expired = AutomationStep.objects.filter(status=StepStatus.IN_FLIGHT, lease_until__lt=now)
    reset = {"lease_token": "", "lease_until": None, "enqueued_at": None}
    dead_ids = list(
        expired.filter(attempts__gte=settings.SYNC_MAX_ATTEMPTS).values_list("pk", flat=True)
    )
    for step in AutomationStep.objects.filter(pk__in=dead_ids).select_related("run"):
        message = "The step never finished: its worker died on every attempt."
        _give_up(step, StepStatus.DEAD, now, {"last_error": message}, "dead")
    released = expired.update(
        status=StepStatus.RETRYING,
        available_at=now,
        last_error="Lease expired: the worker running the step died or hung.",
        **reset,
    )
    return {"dead": len(dead_ids), "released": released}


def due_steps(now: datetime | None = None) -> QuerySet:
    return AutomationStep.objects.filter(
        status__in=STEP_WAITING, available_at__lte=now or timezone.now()
    ).order_by("id")


def sweep(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = release_expired_leases(now)
    stale = now - timedelta(seconds=settings.SYNC_LEASE_SECONDS)
    due = due_steps(now).filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
    ids = list(due.values_list("id", flat=True)[:1000])
    enqueue_steps(ids)
    return {**counts, "enqueued": len(ids)}


def drain(now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Run due steps here until none is left (a finished step makes the next one due)."""
    processed = 0
    while processed < limit:
        release_expired_leases(now)
        ids = list(due_steps(now).values_list("id", flat=True)[:100])
        ran = [i for i in ids if process_step(i, now=now) != "not claimed"]
        processed += len(ran)
        if not ran:
            break
    return {"processed": processed, "left": due_steps(now).count()}


def run_now(run: AutomationRun, now: datetime | None = None) -> AutomationRun:
    """Run one run's due steps here, in order (the admin's dry-run test: nothing is sent)."""
    for _ in range(AutomationStep.objects.filter(run=run).count()):
        step_id = due_steps(now).filter(run=run).values_list("pk", flat=True).first()
        if step_id is None:
            break
        process_step(step_id, now=now)
    run.refresh_from_db()
    return run


def replay(steps: QuerySet) -> int:
    """Failed or dead steps start over (attempts reset); their runs continue from there."""
    ids = list(
        steps.filter(status__in=[StepStatus.FAILED, StepStatus.DEAD]).values_list("pk", flat=True)
    )
    now = timezone.now()
    for step in AutomationStep.objects.filter(pk__in=ids):
        AutomationStep.objects.filter(
            run_id=step.run_id, position__gt=step.position, status=StepStatus.SKIPPED
        ).update(status=StepStatus.BLOCKED)
        AutomationRun.objects.filter(pk=step.run_id).update(
            status=RunStatus.RUNNING, completed_at=None
        )
    AutomationStep.objects.filter(pk__in=ids).update(
        status=StepStatus.PENDING, attempts=0, available_at=now, completed_at=None
    )
    transaction.on_commit(lambda: enqueue_steps(ids))
    return len(ids)
