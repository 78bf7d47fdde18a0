"""The connector registry: Connection.provider value -> (label, dotted path of the class).

Adding a remote system is one line here plus its module (see sync/connectors/base.py).
"""

from functools import cache
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from sync.connectors.base import Connector

CONNECTORS: dict[str, tuple[str, str]] = {
    "highlevel": ("HighLevel CRM", "sync.connectors.highlevel.HighLevelConnector"),
    "rest": ("Generic REST partner", "sync.connectors.rest.Rest"),
    "webhook": ("Outbound webhooks", "sync.connectors.webhook.Webhooks"),
    "email_api": ("E-mail sending API", "sync.connectors.email_api.EmailApi"),
    "notifications": ("Notification platform", "sync.connectors.notifications.Notifications"),
}


def provider_choices() -> list[tuple[str, str]]:
    """Choices for Connection.provider (callable, so a new provider needs no migration)."""
    return [(key, label) for key, (label, _path) in CONNECTORS.items()]


@cache
def connector_class(provider: str) -> "type[Connector]":
    try:
        _label, path = CONNECTORS[provider]
    except KeyError:
        raise ValueError(f"Unknown connector provider {provider!r}.") from None
    return import_string(path)


def connector_for(connection, *, change=None) -> "Connector":
    """The connector instance for a Connection (optionally bound to the change being pushed)."""
    return connector_class(connection.provider)(connection, change=change)
