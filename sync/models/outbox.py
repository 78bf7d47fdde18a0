"""The transactional outbox (pending work, the source of truth) and one row per remote call."""

from collections import defaultdict

from django.db import models
from django.db.models import Q
from django.utils import timezone

from sync.models.connections import Connection
from sync.objects import MODEL_BY_TYPE, ObjectType, mirror_model


class ChangeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    RETRYING = "retrying", "Retrying"
    DONE = "done", "Done"
    COALESCED = "coalesced", "Coalesced into a later push"
    FAILED = "failed", "Failed (permanent error)"
    DEAD = "dead", "Dead (attempts exhausted)"


WAITING = (ChangeStatus.PENDING, ChangeStatus.RETRYING)
REPLAYABLE = (ChangeStatus.FAILED, ChangeStatus.DEAD)


class Operation(models.TextChoices):
    SYNC = "sync", "Sync the record's current state"
    ACTION = "action", "Run a rule action"


class OutboundChange(models.Model):
    """One change of one mirror record for one connection.

    The push reads the record's current state, so many waiting rows of one record coalesce into
    one call. At most one row per (connection, record) is in flight (a partial unique index), so
    two pushes of the same record to the same connection never run at once.
    """

    # Indexed by obx_conn_id, obx_conn_status and obx_record, which all lead with it: an index
    # of its own would be one more to write on every insert, claim and outcome.
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="outbound_changes", db_index=False
    )
    object_type = models.CharField(max_length=16, choices=ObjectType.choices)
    object_id = models.BigIntegerField()
    operation = models.CharField(max_length=8, choices=Operation.choices, default=Operation.SYNC)
    action = models.JSONField(default=dict, blank=True, help_text="For rule actions.")
    audit_action = models.CharField(max_length=16, blank=True, help_text="create/update/delete")
    changed_fields = models.JSONField(default=list, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=ChangeStatus.choices, default=ChangeStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Claims so far, crashes included.")
    available_at = models.DateTimeField(default=timezone.now, help_text="Not pushed before.")
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    coalesced_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(
        default=timezone.now,
        help_text="When the change reached the portal; the push's quiet period counts from it.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "available_at"], name="obx_status_due"),
            models.Index(
                fields=["connection", "object_type", "object_id", "status"], name="obx_record"
            ),
            models.Index(fields=["connection", "status"], name="obx_conn_status"),
            # The console: a record's timeline, and changelists filtered then ordered by -id.
            models.Index(fields=["object_type", "object_id"], name="obx_object"),
            models.Index(fields=["status", "-id"], name="obx_status_id"),
            models.Index(fields=["connection", "-id"], name="obx_conn_id"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "object_type", "object_id"],
                condition=Q(status="in_flight"),
                name="obx_one_in_flight_per_record",
            )
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id} → {self.connection_id} ({self.status})"

    def mirror_object(self):
        """The mirror row this change is about (tombstoned rows included): as the push engine
        read it for this change's batch (`preload_mirror_objects`), or read now."""
        preloaded = getattr(self, "_preloaded_object", None)
        if preloaded is not None:
            return preloaded
        return mirror_model(self.object_type).objects.get(pk=self.object_id)

    @staticmethod
    def preload_mirror_objects(changes: "list[OutboundChange]") -> None:
        """Read the mirror rows of many changes with one query per object type."""
        by_type: dict[str, list[OutboundChange]] = defaultdict(list)
        for change in changes:
            if change.object_type in MODEL_BY_TYPE:  # not a courses import
                by_type[change.object_type].append(change)
        for object_type, group in by_type.items():
            found = mirror_model(object_type).objects.in_bulk({c.object_id for c in group})
            for change in group:
                change._preloaded_object = found.get(change.object_id)


class DeliveryAttempt(models.Model):
    """One remote call (or one would-be call of a dry run), with redacted excerpts."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        RETRYABLE = "retryable", "Retryable error"
        PERMANENT = "permanent", "Permanent error"
        DRY_RUN = "dry_run", "Dry run (not sent)"

    # Indexed by att_conn_created, which leads with it (an index of its own: one more per call).
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="attempts", db_index=False
    )
    change = models.ForeignKey(
        OutboundChange,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="delivery_attempts",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    request_excerpt = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["connection", "-created_at"], name="att_conn_created"),
            models.Index(fields=["outcome", "-created_at"], name="att_outcome_created"),
            # The unfiltered changelist's order and the dashboard's last-24 h charts.
            models.Index(fields=["-created_at", "-id"], name="att_created"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_code or self.outcome}"
