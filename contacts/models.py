"""The mirror: users, contacts, tasks, notes and appointments, one workspace each.

Rows are written only by `contacts.services`; every row has a public id, a version counter,
the source's timestamp of its current state (for newest-wins conflicts) and a tombstone.
"""

import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from contacts.validators import validate_country, validate_not_in_future, validate_time_zone
from portal.models import Workspace

_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


_ID_LENGTH = 20
_HALF = _ID_LENGTH // 2
_HALF_SPACE = len(_ID_ALPHABET) ** _HALF  # < 2**60: small integers, cheap to divide
_PAIRS = [a + b for a in _ID_ALPHABET for b in _ID_ALPHABET]  # two base62 digits at a time


def new_public_id(prefix: str) -> str:
    """`ct_` + 20 base62 characters (~119 bits): unguessable and safe in URLs."""
    # Two independent uniform draws of ten digits each are one uniform draw from the whole id
    # space: the same distribution as twenty `secrets.choice` calls at a fraction of the cost
    # (it is per row in bulk writes).
    low, high = secrets.randbelow(_HALF_SPACE), secrets.randbelow(_HALF_SPACE)
    return f"{prefix}_{_base62(low)}{_base62(high)}"


def _base62(number: int) -> str:
    """`number` (< 62**10) as ten base62 digits, least significant first."""
    pairs = []
    for _ in range(_HALF // 2):
        number, pair = divmod(number, 3844)  # 62**2
        pairs.append(_PAIRS[pair % 62 * 62 + pair // 62])
    return "".join(pairs)


class MirrorQuerySet(models.QuerySet):
    def live(self) -> "MirrorQuerySet":
        return self.filter(deleted_at__isnull=True)

    def in_workspace(self, workspace: Workspace | int) -> "MirrorQuerySet":
        return self.filter(workspace=workspace)


class MirrorModel(models.Model):
    PUBLIC_ID_PREFIX = ""
    # Fields the write path never takes from callers.
    SYSTEM_FIELDS = frozenset(
        {
            "id",
            "workspace",
            "public_id",
            "created_at",
            "updated_at",
            "deleted_at",
            "version",
            "source_updated_at",
        }
    )

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(max_length=32, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    source_updated_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the change that produced this state happened, by its source's clock.",
    )

    objects = MirrorQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        self.ensure_public_id()
        super().save(*args, **kwargs)

    def ensure_public_id(self) -> None:
        """Give a new row its public id (save() does; bulk inserts call this, as they skip it)."""
        if not self.public_id:
            self.public_id = new_public_id(self.PUBLIC_ID_PREFIX)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


def _mirror_indexes(prefix: str) -> list[models.Index]:
    # Partner lists page by id and filter by updated_at, always inside one workspace.
    return [
        models.Index(fields=["workspace", "id"], name=f"{prefix}_ws_id"),
        models.Index(fields=["workspace", "updated_at", "id"], name=f"{prefix}_ws_updated"),
    ]


class CrmUser(MirrorModel):
    """A team member of the CRM location (the CRM's "user")."""

    PUBLIC_ID_PREFIX = "us"

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        USER = "user", "User"

    class Type(models.TextChoices):
        ACCOUNT = "account", "Account"
        AGENCY = "agency", "Agency"

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254)
    email_key = models.CharField(max_length=254, editable=False)
    phone = models.CharField(max_length=20, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.ACCOUNT)
    permissions = models.JSONField(default=dict, blank=True)
    location_ids = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "CRM user"
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            *_mirror_indexes("us"),
            models.Index(fields=["workspace", "email_key"], name="us_ws_email"),
        ]

    def __str__(self) -> str:
        return " ".join(filter(None, [self.first_name, self.last_name])) or self.email


class Contact(MirrorModel):
    """A CRM contact, with the fields of the CRM's CreateContactDto."""

    PUBLIC_ID_PREFIX = "ct"

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    email_key = models.CharField(max_length=254, blank=True, editable=False)
    # `email_key` again, only while the contact is live and its workspace does not allow
    # duplicate contacts (else NULL): a unique index on it makes the database refuse a second
    # live contact with the same e-mail, also when two requests race (row_values.derive).
    unique_email_key = models.CharField(max_length=254, null=True, editable=False)  # noqa: DJ001
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +15550100000")
    gender = models.CharField(max_length=20, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    address1 = models.CharField("address", max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(
        max_length=2, blank=True, help_text="ISO 3166 alpha-2", validators=[validate_country]
    )
    website = models.URLField(max_length=255, blank=True)
    timezone = models.CharField(
        max_length=64, blank=True, help_text="IANA time zone", validators=[validate_time_zone]
    )
    dnd = models.BooleanField("do not disturb", default=False)
    source = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(null=True, blank=True, validators=[validate_not_in_future])
    tags = models.JSONField(default=list, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True, help_text="{key: value}")
    assigned_user = models.ForeignKey(
        CrmUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    external_id = models.CharField(
        max_length=100, blank=True, help_text="A partner's own id for this contact (bulk upsert)."
    )
    business_id = models.CharField(
        "CRM business id", max_length=64, blank=True, help_text="The business it belongs to."
    )

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            *_mirror_indexes("ct"),
            models.Index(fields=["workspace", "email_key"], name="ct_ws_email"),
            models.Index(fields=["workspace", "phone"], name="ct_ws_phone"),
            models.Index(fields=["workspace", "last_name", "first_name"], name="ct_ws_name"),
            models.Index(fields=["workspace", "business_id"], name="ct_ws_business"),
            # And `ct_tags`, GIN on `tags` for the tag filter: PostgreSQL only, so it lives in
            # migration 0004 alone, not here.
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=~Q(external_id=""),
                name="ct_unique_external_id",
            ),
            models.UniqueConstraint(
                fields=["workspace", "unique_email_key"], name="ct_unique_email_per_workspace"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or self.public_id

    @property
    def name(self) -> str:
        return " ".join(filter(None, [self.first_name, self.last_name]))


class Task(MirrorModel):
    PUBLIC_ID_PREFIX = "tk"

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tasks")
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    due_date = models.DateTimeField(null=True, blank=True)
    completed = models.BooleanField(default=False)
    assigned_user = models.ForeignKey(
        CrmUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )

    class Meta:
        ordering = ["due_date", "id"]
        indexes = _mirror_indexes("tk")

    def __str__(self) -> str:
        return self.title


class Note(MirrorModel):
    PUBLIC_ID_PREFIX = "nt"

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="notes")
    body = models.TextField()
    author = models.ForeignKey(
        CrmUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = _mirror_indexes("nt")

    def __str__(self) -> str:
        return (self.body[:60] + "…") if len(self.body) > 60 else self.body


class Appointment(MirrorModel):
    PUBLIC_ID_PREFIX = "ap"

    class Status(models.TextChoices):
        NEW = "new", "New"
        CONFIRMED = "confirmed", "Confirmed"
        CANCELLED = "cancelled", "Cancelled"
        SHOWED = "showed", "Showed"
        NOSHOW = "noshow", "No-show"
        INVALID = "invalid", "Invalid"

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="appointments")
    calendar_id = models.CharField("CRM calendar id", max_length=64)
    title = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(null=True, blank=True)
    address = models.CharField(max_length=255, blank=True)
    notes = models.TextField(blank=True)
    assigned_user = models.ForeignKey(
        CrmUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="appointments"
    )

    class Meta:
        ordering = ["start_time", "id"]
        indexes = [
            *_mirror_indexes("ap"),
            models.Index(fields=["workspace", "start_time"], name="ap_ws_start"),
        ]

    def __str__(self) -> str:
        return self.title or f"Appointment {self.start_time:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if self.end_time and self.start_time and self.end_time < self.start_time:
            raise ValidationError({"end_time": ["An appointment cannot end before it starts."]})


MIRROR_MODELS: tuple[type[MirrorModel], ...] = (CrmUser, Contact, Task, Note, Appointment)
