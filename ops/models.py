"""Operations' records: checkpoints of backfill and first-sync runs (a killed run resumes from
its last committed page or batch) and of the periodic poll, alert channels and the alerts
sent."""

from django.db import models
from django.db.models import Q

from portal.models import Workspace
from sync.models import Connection
from sync.transport.crypto import EncryptedJSONField


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
    # Held by the process running the backfill and renewed while it lives (sync/engine/leases.py):
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


class PollCheckpoint(models.Model):
    """How far the periodic poll (ops/poll.py) has read one object type of one connection.

    A sweep asks for what changed at or after `since`; `cursor` is where the sweep goes on
    (None: the next run starts a new sweep). Both are saved in the same transaction as each
    page's writes, so they always describe exactly what is committed: a run killed mid-page
    reads that page again. `seen_until` is the newest change time read so far; the next sweep
    starts a little before it (SYNC_POLL_OVERLAP_SECONDS)."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="poll_checkpoints"
    )
    object_type = models.CharField(max_length=16)
    since = models.DateTimeField(help_text="The current sweep reads changes at or after this.")
    cursor = models.JSONField(null=True, blank=True, help_text="Where the sweep goes on.")
    seen_until = models.DateTimeField(null=True, blank=True, help_text="Newest change read.")
    pages = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The latest record failures.")
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, help_text="Empty once a later run succeeds.")
    # One poll of a type at a time, whatever runs the tasks (ops/poll.py: a run is bounded).
    lease_token = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connection", "object_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "object_type"], name="poll_checkpoint_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["-last_error_at"], condition=~Q(last_error=""), name="poll_failing"
            )
        ]

    def __str__(self) -> str:
        return f"poll of {self.object_type}s from {self.connection}"

    @property
    def failing(self) -> bool:
        return bool(self.last_error)


class AlertChannel(models.Model):
    """Where a workspace's alerts go: e-mail addresses, or a webhook URL (Slack-compatible
    JSON, or the portal's Standard-Webhooks-signed format). Admins are always e-mailed too."""

    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail"
        SLACK = "slack", "Webhook, Slack-compatible payload"
        SIGNED = "signed_webhook", "Webhook, signed (Standard Webhooks)"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="alert_channels"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    target = models.CharField(
        max_length=500, help_text="E-mail addresses (comma separated), or the webhook URL."
    )
    # Encrypted at rest: the signing secret of a signed webhook channel ({"secret": "whsec_…"}).
    credentials = EncryptedJSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["workspace", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class AlertNotice(models.Model):
    """One alert (a rule about one subject) and when it was last sent: the same alert is not
    sent again within ALERT_REPEAT_MINUTES, however many processes run the check."""

    rule = models.CharField(max_length=32)
    subject = models.CharField(max_length=200, help_text='e.g. "connection:5", "apikey:3"')
    workspaces = models.JSONField(default=list, help_text="Ids of the workspaces concerned.")
    title = models.CharField(max_length=200)
    message = models.TextField()
    first_sent_at = models.DateTimeField()
    last_sent_at = models.DateTimeField()
    times_sent = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-last_sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "subject"], name="alert_notice_unique")
        ]

    def __str__(self) -> str:
        return self.title
