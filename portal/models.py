"""Cross-cutting models: workspaces (one per CRM location), the append-only audit trail, partner
API keys and their idempotency records."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.text import slugify

from portal.actors import ActorKind


class Workspace(models.Model):
    """One CRM sub-account ("location"): owns mirror rows, connections and partner keys."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    location_id = models.CharField(
        "CRM location id", max_length=64, unique=True, help_text="The CRM sub-account id."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    allow_duplicate_contacts = models.BooleanField(
        default=False,
        help_text="Mirrors the CRM's “Allow duplicate contacts” setting: off, two live contacts "
        "of this workspace cannot share an e-mail address (case-insensitive). Change it with "
        "contacts.services.workspace_set_allow_duplicate_contacts.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:80] or slugify(self.location_id)[:80]
        super().save(*args, **kwargs)


class WorkspaceRole(models.TextChoices):
    AGENCY_ADMIN = "agency_admin", "Agency admin (every workspace)"
    OPERATOR = "operator", "Workspace operator (view and change)"
    VIEWER = "viewer", "Viewer (read only)"


class WorkspaceMembership(models.Model):
    """What a staff user may do in the console, per workspace (portal/access.py reads it).

    An agency admin's row names no workspace: it covers all of them. A superuser needs no row.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="workspace_memberships"
    )
    workspace = models.ForeignKey(
        Workspace,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
        help_text="Empty for an agency admin (every workspace).",
    )
    role = models.CharField(max_length=16, choices=WorkspaceRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "workspace"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role=WorkspaceRole.AGENCY_ADMIN, workspace__isnull=True)
                | (~Q(role=WorkspaceRole.AGENCY_ADMIN) & Q(workspace__isnull=False)),
                name="membership_agency_admin_has_no_workspace",
                violation_error_message="An agency admin covers every workspace: leave the "
                "workspace empty. Operators and viewers need one.",
            ),
            models.UniqueConstraint(
                fields=["user", "workspace"], name="membership_one_role_per_workspace"
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(workspace__isnull=True),
                name="membership_one_agency_role",
            ),
        ]

    def __str__(self) -> str:
        where = self.workspace or "every workspace"
        return f"{self.user} — {self.get_role_display()} — {where}"


class AuditAction(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    # Something an actor tried and the portal did not allow (the attempt, with the reason).
    REFUSE = "refuse", "Refused"
    ERASE = "erase", "Erase personal data"


class AuditEntry(models.Model):
    """One row per change, never edited: who changed what, from where, before and after."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    # A copy of the actor's name: it stays readable after the user or key is gone.
    actor_label = models.CharField(max_length=200)
    source = models.CharField(max_length=32, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, help_text="{field: [before, after]}")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["object_type", "object_id", "-created_at"]),
            models.Index(fields=["actor_kind", "actor_label"]),
            models.Index(fields=["workspace", "-created_at"]),
            # The console's filters, newest first (audit by source / action at a million rows).
            models.Index(fields=["source", "-created_at"], name="audit_source_recent"),
            models.Index(fields=["action", "-created_at"], name="audit_action_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_id} by {self.actor_label}"


class ApiKeyScope(models.TextChoices):
    """Partner key scopes (interfaces.md). A `.write` scope implies its `.readonly` twin."""

    USERS_READONLY = "users.readonly"
    USERS_WRITE = "users.write"
    CONTACTS_READONLY = "contacts.readonly"
    CONTACTS_WRITE = "contacts.write"
    TASKS_READONLY = "tasks.readonly"
    TASKS_WRITE = "tasks.write"
    NOTES_READONLY = "notes.readonly"
    NOTES_WRITE = "notes.write"
    APPOINTMENTS_READONLY = "appointments.readonly"
    APPOINTMENTS_WRITE = "appointments.write"
    WORKFLOWS_READONLY = "workflows.readonly"
    COURSES_WRITE = "courses.write"
    # Not implied by contacts.write: erasing a person's data is its own grant.
    CONTACTS_ERASE = "contacts.erase"
    # Setting a user's role, type, permissions or locations, or an existing user's e-mail.
    USERS_ADMIN = "users.admin"


class ApiKey(models.Model):
    """A partner's key: `psk_<prefix>_<secret>`. Only the prefix and a keyed hash are stored.

    Rotation makes a new row with the same name and settings; the old row gets `superseded_at`
    and an `expires_at` at the end of its grace time, so each request stays attributable to the
    exact key it used.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(
        max_length=64, editable=False, help_text="HMAC-SHA256 of the secret with the pepper."
    )
    scopes = models.JSONField(default=list)
    workspaces = models.ManyToManyField(Workspace, related_name="api_keys")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    superseded_at = models.DateTimeField(null=True, blank=True, editable=False)
    rotated_from = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rotated_to",
        editable=False,
    )

    class Meta:
        verbose_name = "API key"
        ordering = ["name", "-created_at"]
        constraints = [
            # One current key per name; rotated keys in their grace time keep the name too.
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(superseded_at__isnull=True, revoked_at__isnull=True),
                name="apikey_one_current_per_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (psk_{self.prefix}…)"

    def is_usable(self, now: datetime.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def has_scope(self, scope: str) -> bool:
        """A `.write` scope implies its `.readonly` twin, nothing else (never `.erase` nor
        `users.admin`)."""
        resource, _, level = scope.partition(".")
        return scope in self.scopes or (level == "readonly" and f"{resource}.write" in self.scopes)


class IdempotencyRecord(models.Model):
    """The first response to a POST with an `Idempotency-Key`, replayed for the same request."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    # The workspace the request acted in: one key of several workspaces has one key space each.
    workspace = models.ForeignKey(Workspace, null=True, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "workspace", "key"], name="idempotency_unique_workspace_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"
