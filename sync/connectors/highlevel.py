"""The CRM connector (HighLevel / LeadConnector API v2)."""

from sync.connectors.base import Connector
from sync.connectors.highlevel_fields import DEFAULT_MAPPINGS


class HighLevelConnector(Connector):
    provider = "highlevel"
    default_mappings = DEFAULT_MAPPINGS
