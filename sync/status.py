"""Outbox counts per connection: what `sync_status` and the admin show."""

from django.db.models import Count, Q
from django.utils import timezone

from sync.models import ChangeStatus, Connection

COLUMNS = ("pending", "in_flight", "retrying", "dead", "failed")


def outbox_status() -> list[dict]:
    now = timezone.now()
    counts = Connection.objects.live().annotate(
        pending=Count("outbound_changes", filter=Q(outbound_changes__status=ChangeStatus.PENDING)),
        in_flight=Count(
            "outbound_changes",
            filter=Q(
                outbound_changes__status=ChangeStatus.IN_FLIGHT,
                outbound_changes__lease_until__gte=now,
            ),
        ),
        retrying=Count(
            "outbound_changes",
            filter=Q(outbound_changes__status=ChangeStatus.RETRYING)
            | Q(
                outbound_changes__status=ChangeStatus.IN_FLIGHT,
                outbound_changes__lease_until__lt=now,
            ),
        ),
        dead=Count("outbound_changes", filter=Q(outbound_changes__status=ChangeStatus.DEAD)),
        failed=Count("outbound_changes", filter=Q(outbound_changes__status=ChangeStatus.FAILED)),
    )
    return [
        {
            "connection": c.slug,
            "provider": c.provider,
            "health": c.health,
            "last_success_at": c.last_success_at.isoformat() if c.last_success_at else None,
            "last_error": c.last_error,
            **{column: getattr(c, column) for column in COLUMNS},
        }
        for c in counts.order_by("slug")
    ]
