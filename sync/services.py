"""Operations on sync configuration, shared by commands, the admin and views (audited)."""

from typing import Any

from django.db import transaction
from django.utils.text import slugify

from portal.actors import Actor
from portal.audit import record_change
from portal.models import AuditAction, Workspace
from sync.connectors import connector_class
from sync.models import Connection


def workspace_for_location(location_id: str, *, actor: Actor) -> Workspace:
    """The workspace of a CRM location, created (and audited) when missing."""
    with transaction.atomic():
        workspace, created = Workspace.objects.get_or_create(
            location_id=location_id, defaults={"name": f"Location {location_id}"}
        )
        if created:
            changes = {"name": [None, workspace.name], "location_id": [None, location_id]}
            record_change(
                actor=actor, action=AuditAction.CREATE, instance=workspace, changes=changes
            )
    return workspace


def unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "connection"
    slug, n = base, 2
    while Connection.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def connection_create(*, actor: Actor, workspace: Workspace, **fields: Any) -> Connection:
    with transaction.atomic():
        fields.setdefault("slug", unique_slug(fields["name"]))
        connection = Connection.objects.create(workspace=workspace, **fields)
        changes = {name: [None, value] for name, value in fields.items() if value}
        record_change(actor=actor, action=AuditAction.CREATE, instance=connection, changes=changes)
    return connection


def connection_add(
    provider: str, options: dict[str, Any], *, actor: Actor
) -> tuple[Connection, str]:
    """A connection from a provider's options (`connections add` and the admin's preset page):
    the connector turns the options into fields, then adds its extras (a preset's mappings, a
    webhook's secret). Returns the connection and what to tell the operator once.
    ValueError for options the connector refuses."""
    cls = connector_class(provider)
    workspace, fields = cls.connection_from_command(options, actor=actor)
    with transaction.atomic():
        connection = connection_create(actor=actor, workspace=workspace, provider=provider,
                                       name=options["name"], dry_run=bool(options.get("dry_run")),
                                       **fields)  # fmt: skip
        note = cls.after_command_create(connection, options)
    return connection, note or ""


def find_connection(name_or_slug: str) -> Connection:
    """A live connection by slug or name (ValueError with a clear message otherwise)."""
    matches = list(
        Connection.objects.live().filter(slug=name_or_slug)
        or Connection.objects.live().filter(name=name_or_slug)
    )
    if len(matches) != 1:
        problem = "No" if not matches else "More than one"
        raise ValueError(f"{problem} connection named {name_or_slug!r}.")
    return matches[0]
