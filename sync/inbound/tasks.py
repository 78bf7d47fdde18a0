"""django-q2 entry points for inbound events. Payloads are event ids only."""

import logging

from django.utils import timezone
from django_q.tasks import async_task

from sync.engine.broker import shared_broker
from sync.models import InboundEvent

logger = logging.getLogger(__name__)
PROCESS_TASK = "sync.inbound.tasks.process_inbound"
SWEEP_TASK = "sync.inbound.tasks.sweep_inbound"


def enqueue_events(event_ids: list[int], *, marked: bool = False) -> None:
    """Hand events to django-q2. Losing this is harmless: the sweeper enqueues them later.

    `marked`: the events were stored with `enqueued_at` already set (the intake does that in
    its insert); then only a failure writes, clearing it so the next sweep takes the event.
    """
    for event_id in event_ids:
        try:
            async_task(
                PROCESS_TASK,
                event_id,
                task_name=f"inbound-{event_id}",
                group="inbound",
                broker=shared_broker(),
            )
        except Exception:
            logger.exception("Could not enqueue inbound event %s; the sweeper will.", event_id)
            if marked:
                InboundEvent.objects.filter(pk=event_id).update(enqueued_at=None)
            continue
        if not marked:
            InboundEvent.objects.filter(pk=event_id).update(enqueued_at=timezone.now())


def process_inbound(event_id: int) -> str:
    from sync.inbound.processing import process_event

    return process_event(event_id)


def sweep_inbound() -> dict[str, int]:
    from sync.inbound.processing import sweep

    return sweep()
