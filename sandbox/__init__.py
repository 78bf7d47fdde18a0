"""Sandbox CRM: a local, stdlib-only stand-in for the HighLevel/LeadConnector API v2.

Speaks the official contract (paths, bodies, headers, rate limits, signed webhooks) so
demos, benchmarks and end-to-end tests can run without the real CRM. No Django imports:
``python -c "from sandbox import SandboxCRM"`` works with zero portal configuration.
"""

from .app import SandboxCRM
from .core import DEFAULT_LOCATION_ID, DEFAULT_TOKEN, SandboxConfig

__all__ = ["DEFAULT_LOCATION_ID", "DEFAULT_TOKEN", "SandboxCRM", "SandboxConfig"]
