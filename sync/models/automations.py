"""Automations: a trigger, conditions and an ordered list of actions, edited as data.

    Automation        what starts it (trigger), when it applies (conditions), on or off or dry run
    AutomationAction  one operation of the catalog on one connection, inputs as templates
    AutomationRun     one trigger event x automation (unique: an event fires it once)
    AutomationStep    one action of one run: claimed with a lease, retried, dead-lettered;
                      its idempotency key (event x action) is unique, so it has one effect

The engine is sync/automations/ (triggers, templating, actions, the step runner).
"""

from django.db import models
from django.utils import timezone

from portal.models import Workspace
from sync.models.connections import Connection
from sync.objects import ObjectType


class Trigger(models.TextChoices):
    RECORD_CREATED = "record_created", "A record was created"
    RECORD_UPDATED = "record_updated", "A record was updated"
    RECORD_DELETED = "record_deleted", "A record was deleted"
    FIELD_CHANGED = "field_changed", "A field changed (to a value)"
    TAG_ADDED = "tag_added", "A tag was added to a contact"
    TAG_REMOVED = "tag_removed", "A tag was removed from a contact"
    APPOINTMENT_BOOKED = "appointment_booked", "An appointment was booked"
    APPOINTMENT_STATUS = "appointment_status", "An appointment's status changed"
    TASK_COMPLETED = "task_completed", "A task was completed"
    EVENT_RECEIVED = "event_received", "An event was received (partner webhook, e-mail status)"


class Mode(models.TextChoices):
    OFF = "off", "Disabled"
    ON = "on", "Enabled"
    DRY_RUN = "dry_run", "Dry run (records what it would do)"


class Automation(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="automations")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.OFF)
    trigger = models.CharField(max_length=24, choices=Trigger.choices)
    object_type = models.CharField(
        max_length=16, choices=ObjectType.choices, blank=True, help_text="For record triggers."
    )
    trigger_connection = models.ForeignKey(
        Connection,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Only changes or events that came from this connection (empty: any source).",
    )
    trigger_field = models.CharField(
        max_length=100, blank=True, help_text="Field changed: the field name (or custom_fields.x)."
    )
    trigger_value = models.JSONField(
        null=True,
        blank=True,
        help_text="Field changed: the new value it must have; a tag's name; an appointment's "
        "status (empty: any).",
    )
    event_type = models.CharField(
        max_length=64, blank=True, help_text="Event received: e.g. purchase.created, email.bounced"
    )
    conditions = models.JSONField(
        default=dict,
        blank=True,
        help_text='Rule conditions on the record: {"op": "AND", "conditions": [{"field", '
        '"operator", "value"}]} (operators as in rules).',
    )
    preset = models.CharField(max_length=64, blank=True, help_text="The template it came from.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["workspace", "trigger", "mode"], name="auto_trigger")]

    def __str__(self) -> str:
        return self.name


class AutomationAction(models.Model):
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="actions")
    position = models.PositiveSmallIntegerField(default=1)
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="+")
    operation = models.CharField(max_length=64, help_text="An action of the operations catalog.")
    inputs = models.JSONField(
        default=dict,
        blank=True,
        help_text='Templates over the trigger\'s record: {"email": "{{ contact.email }}", '
        '"title": "Follow up {{ contact.first_name | default:\\"there\\" }}"}; '
        "earlier steps' outputs: {{ steps.1.id }}.",
    )

    class Meta:
        ordering = ["automation", "position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.operation}"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    DRY_RUN = "dry_run", "Dry run (nothing sent)"
    FAILED = "failed", "Failed"


class AutomationRun(models.Model):
    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="runs")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    event_key = models.CharField(max_length=128, help_text="The trigger event (one run each).")
    event_label = models.CharField(max_length=200, blank=True)
    object_type = models.CharField(max_length=16, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True, help_text="What the templates see.")
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["automation", "event_key"], name="auto_run_once")
        ]
        indexes = [models.Index(fields=["object_type", "object_id"], name="auto_run_object")]

    def __str__(self) -> str:
        return f"{self.automation} ← {self.event_label or self.event_key}"


class StepStatus(models.TextChoices):
    BLOCKED = "blocked", "Waiting for the step before"
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    RETRYING = "retrying", "Retrying"
    DONE = "done", "Done"
    DRY_RUN = "dry_run", "Dry run (nothing sent)"
    FAILED = "failed", "Failed (permanent error)"
    DEAD = "dead", "Dead (attempts exhausted)"
    SKIPPED = "skipped", "Skipped (an earlier step failed)"


STEP_WAITING = (StepStatus.PENDING, StepStatus.RETRYING)


class AutomationStep(models.Model):
    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="steps")
    action = models.ForeignKey(
        AutomationAction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    position = models.PositiveSmallIntegerField()
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    operation = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=160, unique=True)
    status = models.CharField(max_length=16, choices=StepStatus.choices)
    attempts = models.PositiveIntegerField(default=0, help_text="Claims so far, crashes included.")
    available_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    inputs = models.JSONField(default=dict, blank=True, help_text="Rendered for this event.")
    calls = models.JSONField(
        default=list,
        blank=True,
        help_text="Each remote request and its answer, saved as soon as it is known (a re-run "
        "after a crash replays these instead of calling again).",
    )
    output = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        indexes = [models.Index(fields=["status", "available_at"], name="auto_step_due")]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="auto_step_position"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.operation} ({self.status})"
