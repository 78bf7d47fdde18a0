"""A record's automation runs and their steps, as entries of its timeline (sync/console/)."""

import json

from django.urls import reverse

from contacts.models import MirrorModel
from sync.models import AutomationRun, AutomationStep
from sync.objects import object_type_of

LIMIT = 100


def automation_entries(obj: MirrorModel, entry_class) -> list:
    runs = list(
        AutomationRun.objects.filter(object_type=object_type_of(obj), object_id=obj.pk)
        .select_related("automation")
        .order_by("-id")[:LIMIT]
    )
    steps = (
        AutomationStep.objects.filter(run__in=runs)
        .select_related("connection")
        .defer("connection__credentials")
        .order_by("-id")[: LIMIT * 3]
    )
    entries = [
        entry_class(run.created_at, "automation", f"Automation “{run.automation.name}” fired",
                    status=run.status, url=_url(run.pk), detail=run.event_label
                    + (" (dry run)" if run.dry_run else ""))
        for run in runs
    ]  # fmt: skip
    entries += [
        entry_class(step.completed_at or step.created_at, "automation",
                    f"Step {step.position}: {step.operation}", status=step.status,
                    url=_url(step.run_id),
                    connection=step.connection.name, detail=_detail(step))
        for step in steps
    ]  # fmt: skip
    return entries


def _detail(step: AutomationStep) -> str:
    if step.last_error:
        return step.last_error
    requests = ", ".join(f"{c.get('method')} {c.get('path')}" for c in step.calls or [])
    output = json.dumps(step.output, default=str)[:200] if step.output else ""
    return "; ".join(part for part in (requests, f"output {output}" if output else "") if part)


def _url(run_id: int) -> str:
    return reverse("admin:sync_automationrun_change", args=[run_id])
