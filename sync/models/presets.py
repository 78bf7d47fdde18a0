"""Presets of the generic REST connector: templates an operator copies into a connection."""

from django.core.exceptions import ValidationError
from django.db import models

from sync.objects import ObjectType

OPERATIONS = ("create", "update", "delete", "find")
READS = ("list", "get")  # sync/connectors/rest_reads.py
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Records listed on their own: tasks, notes and appointments are listed under their contact.
LISTABLE = ("user", "contact")
LIST_TEXTS = ("cursor_param", "next_cursor_path", "updated_since_param", "items_path",
              "id_path", "updated_at_path")  # fmt: skip


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


def reads(config: dict) -> list[tuple[str, str, dict]]:
    """(object type, "list" | "get", read) for every configured read."""
    objects = config.get("objects") or {}
    return [
        (object_type, name, op)
        for object_type, ops in objects.items()
        for name, op in (ops or {}).items()
        if name in READS
    ]


def paths_to_confirm(config: dict) -> list[str]:
    return [
        f"{object_type}.{name}: {op.get('method', 'GET')} {op.get('path', '')}"
        for object_type, name, op in [*operations(config), *reads(config)]
        if isinstance(op, dict) and op.get("confirm")
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
    for object_type, name, op in reads(config):
        problem = read_problem(object_type, name, op)
        if problem:
            raise ValueError(f"{object_type}.{name}: {problem}")


def read_problem(object_type: str, name: str, op: object) -> str:
    """What is wrong with a list or get read ("" when nothing)."""
    if not isinstance(op, dict):
        return "enter an object."
    path = op.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        return "the path must start with '/'."
    if str(op.get("method", "GET")).upper() != "GET":
        return "reads are GET requests."
    if name == "get":
        if "{id}" not in path:
            return "the path needs {id} (the record's remote id)."
        return "" if isinstance(op.get("record_path", ""), str) else "record_path is text."
    return _list_problem(object_type, op)


def _list_problem(object_type: str, op: dict) -> str:
    if object_type not in LISTABLE:
        return "only users and contacts can be listed (the others belong to a contact)."
    wrong = [key for key in LIST_TEXTS if not isinstance(op.get(key, ""), str)]
    if wrong:
        return f"{', '.join(wrong)} must be text (a parameter name or a dotted path)."
    params = op.get("params", {})
    if not isinstance(params, dict) or not all(isinstance(v, str | int) for v in params.values()):
        return "params is an object of parameter names to values."
    if not op.get("cursor_param") and not op.get("updated_since_param"):
        return "give cursor_param (with next_cursor_path) or updated_since_param."
    if op.get("cursor_param") and not op.get("next_cursor_path"):
        return "cursor_param needs next_cursor_path (where the response gives the next cursor)."
    if not op.get("cursor_param") and not op.get("updated_at_path"):
        return "paging by updated_since_param needs updated_at_path (each record's change time)."
    return ""
