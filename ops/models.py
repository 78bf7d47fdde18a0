"""Checkpoints of backfill runs: a killed run resumes from its last committed page."""

from django.db import models
from django.db.models import Q

from sync.models import Connection


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running (or killed: resumes on the next run)"
    FAILED = "failed", "Failed (resumes on the next run)"
    DONE = "done", "Done"
    ABANDONED = "abandoned", "Abandoned (--restart)"


UNFINISHED = (RunStatus.RUNNING, RunStatus.FAILED)
MAX_ERRORS_KEPT = 50


class BackfillRun(models.Model):
    """One `backfill` of one connection. Updated in the same transaction as each page's writes,
    so its cursor and counts always describe exactly what is committed."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="backfill_runs"
    )
    objects_requested = models.JSONField(default=list, help_text='e.g. ["user", "contact"]')
    since = models.DateTimeField(null=True, blank=True)
    business_id = models.CharField(
        max_length=64, blank=True, help_text="Only the contacts of this CRM business."
    )
    propagate = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    phase = models.CharField(max_length=16, blank=True, help_text="Object type being paged.")
    cursor = models.JSONField(null=True, blank=True, help_text="Next page of the phase.")
    pages = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first failures.")
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(status__in=["running", "failed"]),
                name="backfill_one_unfinished_per_connection",
            )
        ]

    def __str__(self) -> str:
        return f"backfill #{self.pk} of {self.connection} ({self.status})"

    @property
    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
        }


class PushAllRun(models.Model):
    """One first sync outward (`push_all`) of one connection.

    Queuing is checkpointed: `phase` is the object type being queued and `last_id` the highest
    mirror id already queued in it, both saved in the same transaction as each batch of outbox
    rows, so a killed run resumes after its last committed batch. Its outbox rows carry the
    request id `push_all-<pk>`, which is how the dashboard follows their delivery.
    """

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="push_all_runs"
    )
    objects_requested = models.JSONField(default=list, help_text='e.g. ["contact", "task"]')
    since = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    phase = models.CharField(max_length=16, blank=True, help_text="Object type being queued.")
    last_id = models.BigIntegerField(default=0, help_text="Highest mirror id queued in phase.")
    queued = models.PositiveIntegerField(default=0)
    filtered = models.PositiveIntegerField(default=0, help_text="Left out by filter rules.")
    to_look_up = models.PositiveIntegerField(
        default=0, help_text="Not linked yet: looked up at the remote before any create."
    )
    started_by = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "first sync (push all)"
        verbose_name_plural = "first syncs (push all)"
        constraints = [
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(status__in=["running", "failed"]),
                name="push_all_one_unfinished_per_connection",
            )
        ]

    def __str__(self) -> str:
        return f"push_all #{self.pk} to {self.connection} ({self.status})"

    @property
    def request_id(self) -> str:
        return f"push_all-{self.pk}"
