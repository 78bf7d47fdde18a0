"""What every partner connector shares: the SSRF guard (at save time here; at every request
sync/transport/http.py checks and pins the address), the common CLI options
(`--workspace`, `--base-url`, `--allow-private-network`) and lookups of the record's links."""

import base64
from typing import Any

from contacts.models import MirrorModel
from portal.actors import Actor
from portal.models import Workspace
from sync.connectors.base import Connector, TestResult, workspace_by_slug
from sync.models import Connection, Direction, Link
from sync.transport.http import RemoteError
from sync.transport.ssrf import ALLOW_PRIVATE, check_url

# Connections that only take contacts: every other object type is switched off.
CONTACTS_ONLY = {f"{t}s_direction": Direction.OFF for t in ("user", "task", "note", "appointment")}


def basic_auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def guard(url: str, options: dict[str, Any] | None = None) -> str:
    """The URL if the SSRF guard lets it through (ValueError otherwise)."""
    check_url(url, allow_private=bool((options or {}).get(ALLOW_PRIVATE)))
    return url


class PartnerConnector(Connector):
    """A connector whose base URL an operator or partner typed in."""

    guards_urls = True  # the admin form runs the SSRF guard at save time
    url_option = "--base-url"

    @classmethod
    def add_command_arguments(cls, parser: Any) -> None:
        parser.add_argument("--workspace", help="workspace slug (optional if only one exists)")
        parser.add_argument(cls.url_option, dest="base_url", required=True)
        parser.add_argument(
            "--allow-private-network",
            action="store_true",
            help="let this connection reach private/loopback addresses (SSRF guard off)",
        )

    @classmethod
    def connection_from_command(
        cls, options: dict[str, Any], *, actor: Actor
    ) -> tuple[Workspace, dict[str, Any]]:
        workspace = workspace_by_slug(options.get("workspace"))
        extra = {ALLOW_PRIVATE: True} if options.get("allow_private_network") else {}
        fields = cls.fields_from_command(options)
        fields["options"] = {**extra, **fields.get("options", {})}
        fields["base_url"] = guard(options["base_url"], fields["options"])
        return workspace, fields

    @classmethod
    def fields_from_command(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Connection fields (credentials, options, directions) from this provider's options."""
        return {}

    def test_call(self, method: str, path: str, **kwargs: Any) -> TestResult:
        try:
            self.call(method, path, **kwargs)
        except RemoteError as exc:
            return TestResult(False, exc.message)
        return TestResult(True, f"{method} {path} answered")

    def remote_id_of(self, obj: MirrorModel | None, object_type: str) -> str:
        """The remote id this connection holds for a related record ('' when not linked)."""
        if obj is None:
            return ""
        link = Link.objects.filter(
            connection=self.connection, object_type=object_type, object_id=obj.pk
        ).first()
        return link.remote_id if link else ""


def options_of(connection: Connection) -> dict[str, Any]:
    return connection.options or {}
