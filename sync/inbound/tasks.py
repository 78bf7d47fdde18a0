"""django-q2 entry points for inbound events. The events wait in the database; the broker only
carries wake-ups (sync/engine/queue.py). Nothing in sync/inbound imports this module: the task
is enqueued by name."""

from sync.inbound import processing


def process_received() -> dict[str, int]:
    """Woken by the intake: claim received events in fair batches and apply them."""
    return processing.process_received()


def sweep_inbound() -> dict[str, int]:
    return processing.sweep()
