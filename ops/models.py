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
    # Held by the process running the backfill and renewed while it lives (sync/leases.py):
    # another start is refused until it is released or runs out.
    lease_token = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

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
