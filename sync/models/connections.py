"""Connections to remote systems, links between mirror rows and remote ids, mappings, rules."""

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from portal.models import Workspace
from sync.connectors import crm_providers, provider_choices
from sync.objects import ObjectType
from sync.transport.crypto import EncryptedJSONField


class Direction(models.TextChoices):
    IN = "in", "In (remote → portal)"
    OUT = "out", "Out (portal → remote)"
    BOTH = "both", "Both ways"
    OFF = "off", "Off"


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    HEALTHY = "healthy", "Healthy"
    FAILING = "failing", "Failing"


# Sent when a connection is tombstoned (sync/inbound/routing.py forgets its routes).
connection_retired = Signal()


class ConnectionQuerySet(models.QuerySet):
    def live(self) -> "ConnectionQuerySet":
        return self.filter(deleted_at__isnull=True)

    def crm(self) -> "ConnectionQuerySet":
        """Connections to a CRM (a connector whose role is "crm")."""
        return self.filter(provider__in=crm_providers())


def a_day_from_now():
    """A new connection's first reconcile: a day on (a first sync is offered, not forced)."""
    return timezone.now() + timedelta(days=1)


# Connections whose periodic poll / reconcile may run; the due-time indexes cover exactly these,
# so finding the due ones costs what is due, not how many connections exist (ops/due.py).
POLL_ENABLED = Q(active=True, deleted_at__isnull=True, dry_run=False, poll_interval_minutes__gt=0)
RECONCILE_ENABLED = Q(
    active=True, deleted_at__isnull=True, dry_run=False, reconcile_interval_hours__gt=0
)


def _direction_field(label: str) -> models.CharField:
    return models.CharField(
        f"{label} direction", max_length=4, choices=Direction.choices, default=Direction.BOTH
    )


class Connection(models.Model):
    """One remote system of one workspace: where to send, with which credentials, how fast."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="connections")
    provider = models.CharField(max_length=32, choices=provider_choices)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=80, unique=True)
    active = models.BooleanField(default=True)
    primary = models.BooleanField(default=False, help_text="The workspace's main CRM connection.")
    base_url = models.URLField(max_length=255)
    # Encrypted at rest (FERNET_KEYS); never shown in the admin or logs.
    credentials = EncryptedJSONField(default=dict, blank=True)
    location_id = models.CharField("CRM location id", max_length=64, blank=True)
    company_id = models.CharField("CRM company id", max_length=64, blank=True)
    scopes = models.TextField(blank=True, help_text="Granted scopes, space separated.")
    options = models.JSONField(
        default=dict, blank=True, help_text="Provider-specific settings (endpoints, presets)."
    )
    users_direction = _direction_field("users")
    contacts_direction = _direction_field("contacts")
    tasks_direction = _direction_field("tasks")
    notes_direction = _direction_field("notes")
    appointments_direction = _direction_field("appointments")
    source_of_truth = models.JSONField(
        default=list,
        blank=True,
        help_text='Object types for which this connection wins conflicts, e.g. ["contact"].',
    )
    # What this connection may write into the mirror (sync/inbound/permissions.py); empty:
    # its connector's defaults (the CRM: everything it owns; partners: contact create/update).
    inbound_permissions = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per object type, the operations and fields this connection may write here, "
        'e.g. {"contact": {"operations": ["create", "update"], "fields": ["first_name", "phone"]}}'
        ' ("fields": "*" for every ordinary field). Empty: the connector\'s safe defaults.',
    )
    may_write_privileged_user_fields = models.BooleanField(
        default=False,
        help_text="Let this connection set a user's role, type, permissions, locations and an "
        "existing user's e-mail (the CRM always may).",
    )
    rate_limit_requests = models.PositiveIntegerField(default=100)
    rate_limit_interval_seconds = models.PositiveIntegerField(default=10)
    rate_limit_daily = models.PositiveIntegerField(default=200_000)
    dry_run = models.BooleanField(
        "dry run", default=False, help_text="Record what would be sent and send nothing."
    )
    # The fallback for lost webhooks (ops/poll.py, ops/due.py): what changed since the last poll.
    poll_interval_minutes = models.PositiveIntegerField(
        "poll every (minutes)",
        default=5,
        help_text="How often the remote is asked what changed since the last poll (this "
        "repairs a lost webhook); 0: never. Only connectors that can list by change time poll.",
    )
    poll_due_at = models.DateTimeField(default=timezone.now, editable=False)
    reconcile_interval_hours = models.PositiveIntegerField(
        "reconcile every (hours)",
        default=24,
        help_text="How often every record is compared with the remote and the drift repaired "
        "(RECONCILE_REPAIR); 0: never.",
    )
    reconcile_due_at = models.DateTimeField(default=a_day_from_now, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.CharField(max_length=200, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    health = models.CharField(
        max_length=16, choices=Health.choices, default=Health.UNKNOWN, editable=False
    )

    objects = ConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["workspace", "name"]
        indexes = [
            models.Index(fields=["workspace", "active"], name="conn_ws_active"),
            models.Index(fields=["poll_due_at"], condition=POLL_ENABLED, name="conn_poll_due"),
            models.Index(
                fields=["reconcile_due_at"], condition=RECONCILE_ENABLED, name="conn_reconcile_due"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def direction(self, object_type: str) -> str:
        return getattr(self, f"{object_type}s_direction")

    def sends(self, object_type: str) -> bool:
        return self.direction(object_type) in (Direction.OUT, Direction.BOTH)

    @property
    def is_crm(self) -> bool:
        return self.provider in crm_providers()

    def receives(self, object_type: str) -> bool:
        return self.direction(object_type) in (Direction.IN, Direction.BOTH)

    def is_source_of_truth(self, object_type: str) -> bool:
        return object_type in (self.source_of_truth or [])

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def soft_delete(self, *, by: str) -> bool:
        """Tombstone the connection (its history stays readable); True if it was live."""
        deleted = Connection.objects.filter(pk=self.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now(), deleted_by=by[:200], active=False
        )
        # An update() sends no post_save: tell the webhook routing (and anyone else) ourselves.
        connection_retired.send(sender=Connection, connection=self)
        return bool(deleted)

    def record_success(self) -> None:
        Connection.objects.filter(pk=self.pk).update(
            last_success_at=timezone.now(), health=Health.HEALTHY
        )

    def record_error(self, message: str) -> None:
        Connection.objects.filter(pk=self.pk).update(
            last_error_at=timezone.now(), last_error=message[:2000], health=Health.FAILING
        )


class Link(models.Model):
    """A mirror object ↔ its id in one connection's remote system (unique both ways).

    `remote_id` is empty while a create is in flight: a later attempt that finds such a link
    knows the outcome of the first is unknown and looks the record up before creating again.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="links")
    object_type = models.CharField(max_length=16, choices=ObjectType.choices)
    object_id = models.BigIntegerField(help_text="Primary key of the mirror row.")
    remote_id = models.CharField(max_length=128, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    last_pushed_hash = models.CharField(
        max_length=64, blank=True, help_text="sha256 of the mapped payload we last sent (echoes)."
    )
    last_pushed_at = models.DateTimeField(null=True, blank=True)
    remote_snapshot = models.JSONField(
        default=dict,
        blank=True,
        help_text="The remote's last known mapped fields, each with the time it was known as "
        "of (field-level merge; the stored form: sync/inbound/snapshot.py).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "object_type", "object_id"], name="link_unique_mirror"
            ),
            models.UniqueConstraint(
                fields=["connection", "object_type", "remote_id"],
                condition=~Q(remote_id=""),
                name="link_unique_remote",
            ),
        ]
        # A record's links across connections (the timeline).
        indexes = [models.Index(fields=["object_type", "object_id"], name="link_object")]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id} ↔ {self.remote_id or '(creating)'}"


class FieldMapping(models.Model):
    """One field between the mirror and a remote; a connection without rows uses code defaults.

    mirror_field: a mirror field name, several joined by commas for the name transform
    ("first_name,last_name"), or "custom_fields.<key>". remote_path: a dotted path in the remote
    payload, or "customFields#<key-or-id>" for an entry of a custom-field list.
    """

    class Transform(models.TextChoices):
        NONE = "", "None"
        LOWER = "lower", "Lower case"
        STRIP = "strip", "Strip blanks"
        E164 = "e164", "Phone as E.164"
        NAME = "name", "Join first/last name (out), split full name (in)"
        CONSTANT = "constant", "Constant (out only): argument is the value"
        VALUE_MAP = "value_map", "Value map: argument {mirror value: remote value}"
        DATE = "date", "Date format: argument is a strftime format (empty = ISO 8601)"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="mappings")
    object_type = models.CharField(max_length=16, choices=ObjectType.choices)
    mirror_field = models.CharField(max_length=200, blank=True)
    remote_path = models.CharField(max_length=200)
    direction = models.CharField(max_length=4, choices=Direction.choices, default=Direction.BOTH)
    transform = models.CharField(max_length=16, choices=Transform.choices, blank=True)
    argument = models.JSONField(null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["connection", "object_type", "position", "id"]
        indexes = [models.Index(fields=["connection", "object_type"], name="map_conn_type")]

    def __str__(self) -> str:
        return f"{self.object_type}.{self.mirror_field} ↔ {self.remote_path}"


class Rule(models.Model):
    """Conditions on a mirror record deciding whether it goes to a connection, or what to do.

    conditions: {"op": "AND"|"OR", "conditions": [<condition or group>, ...]} where a condition
    is {"field": "tags", "operator": "ANY_IN", "value": ["vip"]} (see sync/mapping/rules.py).
    A FILTER rule must pass for the record to be sent; an ACTION rule runs its action once when
    its conditions become true (e.g. a tag appears).
    """

    class Kind(models.TextChoices):
        FILTER = "filter", "Filter: send only matching records"
        ACTION = "action", "Action: run when the conditions become true"

    class Action(models.TextChoices):
        NONE = "", "None"
        ADD_TO_WORKFLOW = "add_to_workflow", "Add contact to CRM workflow (argument: id)"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100)
    object_type = models.CharField(max_length=16, choices=ObjectType.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FILTER)
    conditions = models.JSONField(default=dict)
    action = models.CharField(max_length=32, choices=Action.choices, blank=True)
    action_argument = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["connection", "position", "id"]
        indexes = [models.Index(fields=["connection", "object_type"], name="rule_conn_type")]

    def __str__(self) -> str:
        return self.name
