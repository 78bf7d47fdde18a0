"""Who made a change: every write through the services names an actor, and the audit keeps it."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from portal.middleware import current_request_id


class ActorKind(models.TextChoices):
    OPERATOR = "operator", "Operator"
    API_KEY = "api_key", "API key"
    CONNECTION = "connection", "Connection"
    SYSTEM = "system", "System"


@dataclass(frozen=True)
class Actor:
    kind: str
    label: str
    id: str = ""
    source: str = ""  # admin, api, webhook, backfill, command, ...
    request_id: str = ""

    @property
    def origin_connection_id(self) -> int | None:
        """The connection a change came from; the sync layer never pushes it back there."""
        return int(self.id) if self.kind == ActorKind.CONNECTION and self.id else None

    @classmethod
    def operator(cls, user, *, source: str = "admin", request_id: str = "") -> Actor:
        return cls(
            ActorKind.OPERATOR,
            user.get_username(),
            str(user.pk),
            source,
            request_id or current_request_id.get(),
        )

    @classmethod
    def system(cls, label: str, *, source: str = "command") -> Actor:
        return cls(ActorKind.SYSTEM, label, "", source, current_request_id.get())

    @classmethod
    def connection(cls, connection, *, source: str = "webhook") -> Actor:
        return cls(
            ActorKind.CONNECTION,
            connection.name,
            str(connection.pk),
            source,
            current_request_id.get(),
        )

    @classmethod
    def api_key(cls, key, *, source: str = "api", request_id: str = "") -> Actor:
        """A partner's key; the label names the exact key row (rotated keys share a name)."""
        return cls(
            ActorKind.API_KEY,
            f"{key.name} (psk_{key.prefix})",
            str(key.pk),
            source,
            request_id or current_request_id.get(),
        )
