"""The connector interface. One module per remote system; register it in CONNECTORS.

A connector is a small class bound to one Connection:

    class MyConnector(Connector):
        provider = "my"                               # the CONNECTORS key
        default_mappings = {"contact": [FieldSpec("email", "email"), ...]}

        def auth_headers(self) -> dict[str, str]      # added to every request
        def refresh_auth(self) -> bool                # after a 401: True if credentials changed
        def test(self) -> TestResult                  # a cheap read; reports missing scopes
        def create_remote(self, object_type, payload, obj) -> str       # returns the remote id
        def update_remote(self, object_type, remote_id, payload, obj) -> None
        def delete_remote(self, object_type, remote_id, obj) -> None
        def find_remote(self, object_type, payload, obj) -> str | None  # after an unknown outcome
        def clear_value(self, object_type, remote_path) -> Any          # "empty" in an update
        def run_action(self, action, obj, remote_id) -> None            # rule actions
        def fetch_page(self, object_type, cursor) -> Page               # backfill / reconcile
        def fetch_record(self, object_type, remote_id) -> dict | None   # one record (None: gone)
        def remote_updated_at(self, object_type, item) -> datetime|None # a listed record's time
        def remote_id(self, object_type, item) -> str                   # a listed record's id
        listable_types = frozenset({...})             # what fetch_page lists without a parent
        incremental_types = frozenset({...})          # what takes {"updatedSince": iso} (poll)
        per_contact_types = frozenset({...})          # children listed by {"contactId": id}
        webhooks = MyWebhooks()        # its own webhook endpoint (sync/connectors/receiving.py)
        def inbound_source(cls, connection) -> LinkedSource   # how its records become mirror
                                                               # values (sync/inbound/sources.py)

`push(change)` is implemented here once: it reads the mirror record's current state, maps it
(`sync.mapping.mapper.to_remote`), and creates, updates or deletes it remotely, keeping the Link
(the remote id is stored as soon as it is known; an empty remote id means a create whose outcome is
unknown, so the next attempt calls `find_remote` before creating again). An unchanged payload
(same hash as last pushed) sends nothing.

Every request goes through `self.call(method, path, ...)` (sync.transport.http.HttpClient: rate
limit, timeouts, DeliveryAttempt rows, redaction, error classification; one auth refresh on 401).
Hooks a connector does not support raise a permanent RemoteError saying so.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from contacts.models import MirrorModel
from portal.actors import Actor
from portal.models import Workspace
from sync.connectors.receiving import ProviderWebhooks
from sync.inbound.snapshot import after_push, known_values, mapped_fields, unpushed_fields
from sync.inbound.sources import LinkedSource, PartnerSource
from sync.mapping.mapper import (
    cleared_fields,
    merge_payloads,
    payload_hash,
    to_remote,
    unsendable_fields,
)
from sync.mapping.specs import FieldSpec
from sync.models import Connection, Link, Operation, OutboundChange
from sync.objects import COURSES_IMPORT, object_type_of
from sync.transport.http import HttpClient, RemoteError, Response
from sync.transport.webhook_checks import parse_timestamp


@dataclass
class TestResult:
    ok: bool
    message: str
    missing_scopes: list[str] = field(default_factory=list)


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: Any = None
    total: int | None = None  # when the remote says how many there are (progress bars)


class Connector:
    provider: ClassVar[str] = ""
    # "crm": the workspace's CRM (its users, contacts, calendars; automations' CRM actions);
    # "partner": any other app.
    role: ClassVar[str] = "partner"
    # Extensions a connector may bring, by dotted module path (loaded through the registry):
    # its URL patterns (e.g. an OAuth callback) and its automation actions.
    urls_module: ClassVar[str | None] = None
    automation_actions: ClassVar[str | None] = None
    # The path of its OAuth token request, if it has one (alerts tell refresh failures apart).
    token_path: ClassVar[str | None] = None
    default_mappings: ClassVar[dict[str, list[FieldSpec]]] = {}
    default_headers: ClassVar[dict[str, str]] = {}
    # Delays (s) before attempt 1, 2, …; None: the engine's exponential backoff and
    # SYNC_MAX_ATTEMPTS. Its length is the attempt limit (e.g. outbound webhooks).
    retry_schedule: ClassVar[tuple[float, ...] | None] = None
    # Whether the remote's update changes only the fields it is sent (then a push sends only
    # what changed); False: the update replaces the record, so it gets the whole state.
    partial_updates: ClassVar[bool] = False
    # What a connection of this kind may write into the mirror unless its own
    # `inbound_permissions` say otherwise (sync/inbound/policy.py): partners may create and
    # update contacts, nothing else.
    default_inbound_permissions: ClassVar[dict[str, Any]] = {
        "contact": {"operations": ["create", "update"], "fields": "*"}
    }
    # A connector whose remote owns the users (the CRM) sets their role, type and locations.
    owns_privileged_user_fields: ClassVar[bool] = False
    # Object types `fetch_page` lists whole (no parent record in the cursor): backfill and
    # reconcile; and those it lists by change time, {"updatedSince": iso}: the periodic poll.
    # An instance may narrow or widen them from its connection's config.
    listable_types: ClassVar[frozenset[str]] = frozenset()
    incremental_types: ClassVar[frozenset[str]] = frozenset()
    # Child types (task, note, appointment) `fetch_page` lists for one contact,
    # {"contactId": remote id}: reconcile lists those it cannot list whole that way.
    per_contact_types: ClassVar[frozenset[str]] = frozenset()

    # A remote sending every connection's webhooks to one URL: POST /webhooks/<provider>/.
    webhooks: ClassVar[ProviderWebhooks | None] = None

    @classmethod
    def inbound_source(cls, connection: Connection) -> LinkedSource:
        """How this connection's inbound records are found and mapped (partners: records in
        the partner API's shape, named by our public ids or their own)."""
        return PartnerSource(connection)

    def __init__(self, connection: Connection, *, change: OutboundChange | None = None) -> None:
        self.connection = connection
        self.change = change
        self.push_started = timezone.now()
        self.http = HttpClient(
            connection, change=change, auth=self.auth_headers, headers=self.default_headers
        )

    @classmethod
    def check_base_url(cls, url: str, *, dry_run: bool) -> None:
        """Raise sync.transport.ssrf.UnsafeURL if this provider may not send credentials to `url` (a
        policy on top of the SSRF guard; checked when saved and before every request)."""

    # --- `connections add <provider>` ----------------------------------------------------

    @classmethod
    def add_command_arguments(cls, parser: Any) -> None:
        parser.add_argument("--workspace", help="workspace slug (optional if only one exists)")
        parser.add_argument("--base-url", required=True)

    @classmethod
    def connection_from_command(
        cls, options: dict[str, Any], *, actor: Actor
    ) -> tuple[Workspace, dict[str, Any]]:
        """(workspace, Connection field values) from the command's options; ValueError if bad."""
        return workspace_by_slug(options.get("workspace")), {
            "base_url": checked_url(options["base_url"])
        }

    @classmethod
    def after_command_create(cls, connection: Connection, options: dict[str, Any]) -> str:
        """Extra output of `connections add` once the connection exists (e.g. a secret)."""
        return ""

    # --- HTTP ---------------------------------------------------------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Response:
        try:
            return self.http.request(method, path, **kwargs)
        except RemoteError as exc:
            if exc.status == 401 and self.refresh_auth():
                return self.http.request(method, path, **kwargs)
            raise

    def auth_headers(self) -> dict[str, str]:
        return {}

    def refresh_auth(self) -> bool:
        return False

    # --- push ---------------------------------------------------------------------------

    def push(self, change: OutboundChange) -> str:
        """Bring the remote to the record's current state; returns what was done."""
        # What we send is known to be there as of the request, not its answer: a change the
        # remote makes itself while handling it (a default, a normalised value) is newer.
        self.push_started = timezone.now()
        if change.object_type == COURSES_IMPORT:
            self.import_courses(change.action.get("payload") or {})
            return "courses imported"
        obj = change.mirror_object()
        object_type = object_type_of(obj)
        link = Link.objects.filter(
            connection=self.connection, object_type=object_type, object_id=obj.pk
        ).first()
        if change.operation == Operation.ACTION:
            self.run_action(change.action, obj, link.remote_id if link else "")
            return "action"
        if obj.is_deleted:
            return self._push_delete(object_type, obj, link)
        payload = to_remote(obj, self.connection)
        digest = payload_hash(payload)
        if link and link.remote_id:
            return self._push_update(object_type, obj, link, payload, digest)
        return self._push_create(object_type, obj, payload, digest, link)

    def _push_update(
        self, object_type: str, obj: MirrorModel, link: Link, payload: dict, digest: str
    ) -> str:
        fields = self.fields_to_send(object_type, obj, link)
        if fields is not None and not fields:
            return "unchanged"  # the remote holds every field as we have it
        sent = payload if fields is None else to_remote(obj, self.connection, only=fields)
        body = self.update_payload(obj, sent, fields)
        if fields is not None and not body:
            return "unchanged"  # what changed cannot be sent yet (e.g. a user not linked)
        # A clear is sent even when the state looks unchanged: an empty value we could not
        # send before (e.g. a user not linked yet) left the remote's old one in place.
        if fields is None and link.last_pushed_hash == digest and body == payload:
            return "unchanged"
        self.update_remote(object_type, link.remote_id, body, obj)
        self._pushed(link, digest, obj, fields)
        return "updated"

    def fields_to_send(self, object_type: str, obj: MirrorModel, link: Link) -> set[str] | None:
        """The mirror fields an update sends (None: the whole mapped state).

        Field-level merge (invariant 6): only what the mirror changed since the last successful
        push — the outbox rows' changed fields (accumulated over coalesced rows) and every field
        that differs from the link's snapshot of the remote — never a field the remote may have
        changed meanwhile. A remote whose update replaces the whole record gets the whole state.
        """
        if not self.updates_partially(object_type):
            return None
        changed = set(self.change.changed_fields) if self.change else set()
        if not changed and not link.remote_snapshot:
            return None  # a replay or repair of a link older than snapshots: the whole state
        mapped = mapped_fields(self.connection, object_type)
        known = set(known_values(link))
        return ((changed & mapped) - known) | unpushed_fields(link, obj, mapped)

    def _push_create(
        self,
        object_type: str,
        obj: MirrorModel,
        payload: dict[str, Any],
        digest: str,
        link: Link | None,
    ) -> str:
        remote_id = self.find_remote(object_type, payload, obj) if link else None
        if link is None:
            # Saved before the call: if we never learn the outcome, the next try looks first.
            link = Link.objects.create(
                connection=self.connection, object_type=object_type, object_id=obj.pk
            )
        if remote_id:
            self._store_remote_id(link, remote_id)
            body = self.update_payload(obj, payload, None)
            self.update_remote(object_type, remote_id, body, obj)
            self._pushed(link, digest, obj, None)
            return "found and updated"
        self._store_remote_id(link, self.create_remote(object_type, payload, obj))
        self._pushed(link, digest, obj, None)
        return "created"

    def update_payload(
        self, obj: MirrorModel, payload: dict[str, Any], fields: set[str] | None = None
    ) -> dict[str, Any]:
        """The state plus an explicit clear of each field this change emptied (sync.mapping.mapper).

        The Link keeps the hash of the state alone (`payload`): that is what inbound echo
        detection recomputes, and an unchanged state with nothing to clear sends nothing."""
        changed = self.change.changed_fields if self.change else []
        if fields is not None:
            changed = fields
        object_type = object_type_of(obj)
        clears = cleared_fields(
            obj, self.connection, changed, lambda path: self.clear_value(object_type, path)
        )
        return merge_payloads(payload, clears)

    def _push_delete(self, object_type: str, obj: MirrorModel, link: Link | None) -> str:
        if link is None or not link.remote_id or link.last_pushed_hash == DELETED:
            return "nothing to delete"
        self.delete_remote(object_type, link.remote_id, obj)
        self._pushed(link, DELETED, obj, set())
        return "deleted"

    @staticmethod
    def _store_remote_id(link: Link, remote_id: str) -> None:
        link.remote_id = remote_id
        Link.objects.filter(pk=link.pk).update(remote_id=remote_id, updated_at=timezone.now())

    def _pushed(self, link: Link, digest: str, obj: MirrorModel, fields: set[str] | None) -> None:
        """The push succeeded: the remote holds `fields` (None: every mapped one) as we do."""
        now = timezone.now()
        sent = mapped_fields(self.connection, object_type_of(obj)) if fields is None else fields
        sent = set(sent) - unsendable_fields(obj, self.connection) if sent else set()
        snapshot = after_push(link, obj, sent, as_of=self.push_started) if sent else None
        extra = {"remote_snapshot": snapshot} if snapshot is not None else {}
        Link.objects.filter(pk=link.pk).update(
            last_pushed_hash=digest, last_pushed_at=now, updated_at=now, **extra
        )

    # --- hooks (connectors override what they support) ----------------------------------

    def test(self) -> TestResult:
        return TestResult(False, f"{self.provider} connections cannot be tested.")

    def create_remote(self, object_type: str, payload: dict[str, Any], obj: MirrorModel) -> str:
        raise self.unsupported(f"creating {object_type}s")

    def update_remote(
        self, object_type: str, remote_id: str, payload: dict[str, Any], obj: MirrorModel
    ) -> None:
        raise self.unsupported(f"updating {object_type}s")

    def delete_remote(self, object_type: str, remote_id: str, obj: MirrorModel) -> None:
        raise self.unsupported(f"deleting {object_type}s")

    def find_remote(
        self, object_type: str, payload: dict[str, Any], obj: MirrorModel
    ) -> str | None:
        """The remote id of a record an earlier, unanswered create may have made."""
        return None

    def clear_value(self, object_type: str, remote_path: str) -> Any:
        """What an update sends for a field that is now empty (partners: JSON null)."""
        return None

    def run_action(self, action: dict[str, Any], obj: MirrorModel, remote_id: str) -> None:
        raise self.unsupported(f"the action {action.get('type')!r}")

    def import_courses(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise self.unsupported("importing courses")

    def fetch_page(self, object_type: str, cursor: Any = None) -> Page:
        raise self.unsupported(f"listing {object_type}s")

    def fetch_record(self, object_type: str, remote_id: str) -> dict[str, Any] | None:
        raise self.unsupported(f"reading one {object_type}")

    def remote_id(self, object_type: str, item: dict[str, Any]) -> str:
        """A listed record's remote id ("" when it has none)."""
        return str(item.get("id") or "")

    def remote_updated_at(self, object_type: str, item: dict[str, Any]) -> datetime | None:
        """A listed record's own change time, by the remote's clock."""
        return listed_updated_at(item)

    def updates_partially(self, object_type: str) -> bool:
        return self.partial_updates

    def unsupported(self, what: str) -> RemoteError:
        return RemoteError(
            f"The {self.provider} connector does not support {what}.", permanent=True
        )


DELETED = "deleted"


def listed_updated_at(item: dict[str, Any]) -> datetime | None:
    """The time of a listed record's current state (dateUpdated, updatedAt, else dateAdded)."""
    raw = item.get("dateUpdated") or item.get("updatedAt") or item.get("dateAdded")
    return parse_timestamp(raw) if raw else None


def checked_url(url: str) -> str:
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValueError(f"{url!r} is not an http(s) URL.") from None
    return url


def workspace_by_slug(slug: str | None) -> Workspace:
    """The named workspace, or the only one when no name is given."""
    workspaces = Workspace.objects.filter(slug=slug) if slug else Workspace.objects.all()
    found = list(workspaces[:2])
    if len(found) != 1:
        raise ValueError(
            f"No workspace {slug!r}." if slug else "Several workspaces exist: give --workspace."
        )
    return found[0]
