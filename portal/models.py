"""Cross-cutting models: workspaces (one per CRM location) and the append-only audit trail."""

from django.db import models
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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:80] or slugify(self.location_id)[:80]
        super().save(*args, **kwargs)


class AuditAction(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"


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
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_id} by {self.actor_label}"
