"""The connector registry: Connection.provider value -> (label, dotted path of the class).

Adding a remote system is one line here plus its module (see sync/connectors/base.py). This is
the only place that names providers; everything else asks a connector class what it does
(`role`, its hooks and class attributes). It imports no connector at import time, so any
module (models, transport, mapping) may use it without an import cycle.
"""

from functools import cache
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from sync.connectors.base import Connector
    from sync.connectors.receiving import ProviderWebhooks

CONNECTORS: dict[str, tuple[str, str]] = {
    "highlevel": ("HighLevel CRM", "sync.connectors.highlevel.client.HighLevelConnector"),
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


def connector_classes() -> "list[type[Connector]]":
    return [connector_class(provider) for provider in CONNECTORS]


def webhook_receiver(provider: str) -> "ProviderWebhooks | None":
    """The hooks of a provider's own webhook endpoint (/webhooks/<provider>/), if it has one."""
    if provider not in CONNECTORS:
        return None
    return connector_class(provider).webhooks


def webhook_receivers() -> "dict[str, ProviderWebhooks]":
    """Every provider with its own webhook endpoint (the URLs, the admin's event types)."""
    receivers = {provider: webhook_receiver(provider) for provider in CONNECTORS}
    return {provider: hooks for provider, hooks in receivers.items() if hooks is not None}


@cache
def crm_providers() -> tuple[str, ...]:
    """The providers whose connections are a workspace's CRM (its users, contacts, calendars)."""
    return tuple(cls.provider for cls in connector_classes() if cls.role == "crm")
