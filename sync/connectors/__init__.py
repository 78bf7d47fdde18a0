"""The connector registry: Connection.provider value -> (label, dotted path of the class).

Adding a remote system is one line here plus its module (see sync/connectors/base.py).
"""

import logging
from functools import cache
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from sync.connectors.base import Connector, TestResult
    from sync.connectors.receiving import ProviderWebhooks

logger = logging.getLogger(__name__)

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


def webhook_receiver(provider: str) -> "ProviderWebhooks | None":
    """The hooks of a provider's own webhook endpoint (/webhooks/<provider>/), if it has one."""
    if provider not in CONNECTORS:
        return None
    return connector_class(provider).webhooks


def webhook_receivers() -> "dict[str, ProviderWebhooks]":
    """Every provider with its own webhook endpoint (the URLs, the admin's event types)."""
    receivers = {provider: webhook_receiver(provider) for provider in CONNECTORS}
    return {provider: hooks for provider, hooks in receivers.items() if hooks is not None}


def test_connection(connection) -> "TestResult":
    """The connector's cheap test, as a result whatever happens: the admin action, the form and
    `connections test` show its message; an unexpected crash is logged, never a 500."""
    from sync.connectors.base import TestResult
    from sync.transport.http import RemoteError

    try:
        return connector_for(connection).test()
    except RemoteError as exc:
        return TestResult(False, exc.message)
    except Exception as exc:
        logger.exception("Testing connection %s crashed", connection.pk)
        return TestResult(False, f"The test could not run ({type(exc).__name__}: {exc}).")
