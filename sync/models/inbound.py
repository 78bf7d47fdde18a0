"""Inbound webhook deliveries, stored raw before anything is applied (see sync/inbound/)."""

from django.db import models
from django.utils import timezone

from portal.models import Workspace
from sync.connectors import CONNECTORS, webhook_receivers
from sync.models.connections import Connection


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received (waiting to be processed)"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    UNMATCHED = "unmatched", "Unmatched (unknown location or connection)"
    FAILED = "failed", "Failed"
    ECHO = "echo", "Echo of our own change"
    REFUSED = "refused", "Refused (not permitted for this connection)"


class InboundSource(models.TextChoices):
    """Where a delivery came in: a partner connection's own URL, or a provider's endpoint
    (the source is then the provider's key, e.g. the CRM's: see `source_choices`)."""

    PARTNER = "partner", "Partner webhook"


def source_choices() -> list[tuple[str, str]]:
    """Partner webhooks, and every provider with its own endpoint (from the registry)."""
    providers = [(p, CONNECTORS[p][0]) for p in webhook_receivers()]
    return [*InboundSource.choices, *providers]


class InboundEvent(models.Model):
    """One verified webhook delivery: the raw body, where it came from and what became of it.

    `webhook_id` is unique per `source_key` (the provider, or "connection:<id>" for partners) and
    `routing_key` (the CRM location or company it names), so a repeated delivery is recognised
    however many processes receive it at once, and one location's ids never mask another's.
    Processing claims the row with a lease (conditional update); the sweeper re-enqueues rows
    whose task was lost or whose lease expired.
    """

    source = models.CharField(max_length=16, choices=source_choices)
    source_key = models.CharField(max_length=64)
    connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_events",
        db_index=False,  # inbound_conn_received leads with it: one index fewer per webhook
    )
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event_type = models.CharField(max_length=64)
    webhook_id = models.CharField(max_length=128)
    routing_key = models.CharField(
        max_length=64, blank=True, help_text="The locationId/companyId (CRM) or slug it named."
    )
    object_type = models.CharField(max_length=16, blank=True)
    remote_id = models.CharField(max_length=128, blank=True)
    body = models.TextField(help_text="The raw body, exactly as signed.")
    headers = models.JSONField(default=dict, blank=True, help_text="Non-secret headers only.")
    signature_scheme = models.CharField(max_length=32, blank=True)
    source_timestamp = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    result = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_key", "routing_key", "webhook_id"],
                name="inbound_unique_webhook_per_route",
            )
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbound_status_received"),
            # The console: changelist order (its event-type filter too: no index of its own,
            # one fewer per delivery), dashboard charts, a record's timeline.
            models.Index(fields=["-received_at", "-id"], name="inbound_received"),
            models.Index(fields=["connection", "-received_at"], name="inbound_conn_received"),
            # Also a record's events for one connection (few rows per remote id).
            models.Index(fields=["object_type", "remote_id"], name="inbound_object"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id} ({self.status})"
