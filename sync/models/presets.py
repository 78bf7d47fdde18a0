"""Presets of the generic REST connector: templates an operator copies into a connection."""

from django.core.exceptions import ValidationError
from django.db import models

from sync.objects import ObjectType

OPERATIONS = ("create", "update", "delete", "find")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class RestPreset(models.Model):
    """`config` has the shape of a REST connection's options (see sync/connectors/rest.py);
    `mappings` is {object type: [{"mirror_field", "remote_path", "direction", "transform",
    "argument"}]}. Operations marked "confirm": true are guesses from public documentation
    that the operator must check against the partner's account before going live."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    config = models.JSONField(default=dict)
    mappings = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            validate_config(self.config)
        except ValueError as exc:
            raise ValidationError({"config": str(exc)}) from exc

    def paths_to_confirm(self) -> list[str]:
        return paths_to_confirm(self.config)


def operations(config: dict) -> list[tuple[str, str, dict]]:
    """(object type, operation name, operation) for every configured operation."""
    objects = config.get("objects") or {}
    return [
        (object_type, name, op)
        for object_type, ops in objects.items()
        for name, op in (ops or {}).items()
        if name in OPERATIONS and isinstance(op, dict)
    ]


def paths_to_confirm(config: dict) -> list[str]:
    return [
        f"{object_type}.{name}: {op.get('method', '')} {op.get('path', '')}"
        for object_type, name, op in operations(config)
        if op.get("confirm")
    ]


def validate_config(config: object) -> None:
    """ValueError naming the first problem of a REST config."""
    if not isinstance(config, dict) or not isinstance(config.get("objects"), dict):
        raise ValueError('The config needs an "objects" object.')
    for object_type in config["objects"]:
        if object_type not in ObjectType.values:
            raise ValueError(f"Unknown object type {object_type!r}.")
    for object_type, name, op in operations(config):
        if op.get("method", "").upper() not in METHODS:
            raise ValueError(f"{object_type}.{name}: method must be one of {', '.join(METHODS)}.")
        if not str(op.get("path", "")).startswith("/"):
            raise ValueError(f"{object_type}.{name}: the path must start with '/'.")
