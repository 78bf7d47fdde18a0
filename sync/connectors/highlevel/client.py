"""The CRM connector (HighLevel / LeadConnector API v2). Field maps: highlevel_fields.py;
OAuth 2.0: highlevel_oauth.py. Every request validates against tests/specs/highlevel/."""

import secrets
from typing import Any
from urllib.parse import urlsplit

from django.core.cache import cache

from contacts.models import MirrorModel
from sync.connectors.base import Connector, Page, TestResult, checked_url
from sync.connectors.highlevel import listings
from sync.connectors.highlevel.catalog import crm_triggers
from sync.connectors.highlevel.fields import DEFAULT_MAPPINGS, clear_value
from sync.connectors.highlevel.lookup import find_created, task_contact_id
from sync.connectors.highlevel.oauth import TOKEN_PATH, access_token, refresh_tokens
from sync.connectors.highlevel.source import HighLevelSource
from sync.connectors.highlevel.webhooks import HighLevelWebhooks
from sync.models import Connection, Link
from sync.services import workspace_for_location
from sync.transport.http import NotYet, RemoteError
from sync.transport.ssrf import UnsafeURL, allowed_hosts

API_HOST = "services.leadconnectorhq.com"
API_BASE_URL = f"https://{API_HOST}"
API_VERSION = "2021-07-28"
CALENDARS_API_VERSION = "2021-04-15"  # the calendars API pins its own version
REQUIRED_SCOPES = (
    "contacts.readonly",
    "contacts.write",
    "users.readonly",
    "users.write",
    "workflows.readonly",
    "calendars/events.write",
    # backfill's location-wide listings and the location's time zone
    "locations/tasks.readonly",
    "calendars.readonly",
    "calendars/events.readonly",
    "locations.readonly",
)
LISTS_CACHE_SECONDS = 600  # workflows and custom fields change rarely
# object type → (collection path, item path); {contact} is the parent contact's remote id.
PATHS = {
    "contact": ("/contacts/", "/contacts/{id}"),
    "user": ("/users/", "/users/{id}"),
    "task": ("/contacts/{contact}/tasks", "/contacts/{contact}/tasks/{id}"),
    "note": ("/contacts/{contact}/notes", "/contacts/{contact}/notes/{id}"),
    "appointment": ("/calendars/events/appointments", "/calendars/events/appointments/{id}"),
}
RESPONSE_KEY = {"contact": "contact", "task": "task", "note": "note"}
# object type → (list path of one contact's records, response key); for backfill/reconcile.
CHILD_LISTS = {
    "task": ("/contacts/{contact}/tasks", "tasks"),
    "note": ("/contacts/{contact}/notes", "notes"),
    "appointment": ("/contacts/{contact}/appointments", "events"),
}


def check_crm_base_url(url: str, *, dry_run: bool) -> None:
    """Where a CRM connection may send its token: the CRM's own API host over HTTPS — unless
    the connection is a dry run (it sends nothing) or the host is allowed by the operator in
    SSRF_ALLOWED_HOSTS (a stand-in CRM). Anything else would hand the token to whoever
    listens there. Raises UnsafeURL."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if dry_run or (host and host in allowed_hosts()):
        return
    official = parts.scheme == "https" and host == API_HOST and parts.port in (None, 443)
    if not official or parts.username or parts.password:
        raise UnsafeURL(
            f"A CRM connection sends its token only to {API_BASE_URL} ({url!r} given); "
            "add a stand-in host to SSRF_ALLOWED_HOSTS, or make it a dry-run connection."
        )


class HighLevelConnector(Connector):
    provider = "highlevel"
    role = "crm"
    urls_module = "sync.connectors.highlevel.urls"
    automation_actions = "sync.connectors.highlevel.actions"
    token_path = TOKEN_PATH
    default_mappings = DEFAULT_MAPPINGS
    default_headers = {"Version": API_VERSION, "Accept": "application/json"}
    guards_urls = True  # pinned and checked by the SSRF guard at every request, like partners

    @classmethod
    def check_base_url(cls, url: str, *, dry_run: bool) -> None:
        check_crm_base_url(url, dry_run=dry_run)

    @classmethod
    def catalog_triggers(cls) -> list[dict[str, Any]]:
        return crm_triggers(cls)

    # Where a record read back holds what a write sent elsewhere (UserSuccessfulResponseDto
    # nests type/role/locationIds under "roles"; CreateUserDto takes them at the top level).
    read_paths = {
        "user": {"type": "roles.type", "role": "roles.role", "locationIds": "roles.locationIds"}
    }

    # The CRM's PUTs change only the properties they carry (no update DTO requires any).
    partial_updates = True
    # The CRM owns what the mirror holds: it writes every type, field and operation, the
    # users' role, type and locations included.
    default_inbound_permissions = {
        object_type: {"operations": ["create", "update", "delete"], "fields": "*"}
        for object_type in ("user", "contact", "task", "note", "appointment")
    }
    owns_privileged_user_fields = True
    # Whole listings (listings.py for the location-wide ones). Notes are listed per contact only.
    listable_types = frozenset({"user", "contact", "task", "appointment"})
    per_contact_types = frozenset(CHILD_LISTS)
    # By change time: only contacts (POST /contacts/search, dateUpdated range, sorted by it).
    # The task search (locations.json) filters by contact, assignee, completion and text, and
    # calendar events (calendars.json) by start time; users are searched by name or sorted by
    # dateAdded (users.json): none of those can say "changed since", so reconcile covers them.
    incremental_types = frozenset({"contact"})
    webhooks = HighLevelWebhooks()

    @classmethod
    def inbound_source(cls, connection: Connection) -> HighLevelSource:
        return HighLevelSource(connection)

    @classmethod
    def add_command_arguments(cls, parser: Any) -> None:
        parser.add_argument("--base-url", default=API_BASE_URL)
        parser.add_argument("--location-id", required=True)
        parser.add_argument("--token", help="private integration token")
        parser.add_argument("--client-id", help="OAuth app (then install it from the admin)")
        parser.add_argument("--client-secret")
        parser.add_argument("--company-id", default="")
        parser.add_argument("--scopes", default=" ".join(REQUIRED_SCOPES))

    @classmethod
    def connection_from_command(cls, options: dict[str, Any], *, actor: Any) -> tuple:
        token, client_id, secret = options["token"], options["client_id"], options["client_secret"]
        if not token and not (client_id and secret):
            raise ValueError("Give --token, or --client-id and --client-secret (OAuth).")
        base_url = checked_url(options["base_url"])
        try:
            check_crm_base_url(base_url, dry_run=bool(options.get("dry_run")))
        except UnsafeURL as exc:
            raise ValueError(str(exc)) from exc
        workspace = workspace_for_location(options["location_id"], actor=actor)
        credentials = (
            {"token": token} if token else {"client_id": client_id, "client_secret": secret}
        )
        return workspace, {
            "base_url": base_url,
            "credentials": credentials,
            "location_id": options["location_id"],
            "company_id": options["company_id"],
            "scopes": options["scopes"],
            "primary": not workspace.connections.filter(primary=True, deleted_at=None).exists(),
        }

    def call(self, method: str, path: str, **kwargs: Any):
        if path.startswith("/calendars/"):
            kwargs["headers"] = {**kwargs.get("headers", {}), "Version": CALENDARS_API_VERSION}
        return super().call(method, path, **kwargs)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {access_token(self.connection)}"}

    def refresh_auth(self) -> bool:
        return refresh_tokens(self.connection)

    def test(self) -> TestResult:
        missing = [s for s in REQUIRED_SCOPES if s not in self.connection.scope_list]
        try:
            self.call("GET", "/contacts/", params={"locationId": self.location, "limit": 1})
        except RemoteError as exc:
            return TestResult(False, exc.message, missing)
        note = f"; missing scopes: {', '.join(missing)}" if missing else ""
        return TestResult(True, f"Connected to location {self.location}{note}", missing)

    @property
    def location(self) -> str:
        return self.connection.location_id

    # --- push hooks -------------------------------------------------------------------

    def create_remote(self, object_type: str, payload: dict[str, Any], obj: MirrorModel) -> str:
        body = self._body(object_type, payload, obj, create=True)
        data = self.call("POST", self._path(object_type, obj, 0), json=body).json()
        item = data.get(RESPONSE_KEY.get(object_type, ""), data)
        remote_id = item.get("id") if isinstance(item, dict) else None
        if not remote_id:
            raise RemoteError("The CRM's create response carried no id.", permanent=False)
        if object_type == "contact" and payload.get("businessId"):
            self._set_business(str(remote_id), payload["businessId"])
        return str(remote_id)

    def update_remote(self, object_type: str, remote_id: str, payload: dict, obj) -> None:
        path = self._path(object_type, obj, 1, remote_id)
        changed = set(self.change.changed_fields) if self.change else set()
        if object_type == "task" and changed == {"completed"}:
            self.call("PUT", path + "/completed", json={"completed": obj.completed})
            return
        body = self._body(object_type, payload, obj, create=False)
        if body:  # empty when only the business changed: that has its own call
            self.call("PUT", path, json=body)
        # A full-state push (no changed fields: first sync, repair) sets a business too.
        business = payload.get("businessId")
        if object_type == "contact" and ("business_id" in changed or (business and not changed)):
            self._set_business(remote_id, business)

    def _set_business(self, remote_id: str, business_id: str | None) -> None:
        body = {"locationId": self.location, "ids": [remote_id], "businessId": business_id or None}
        self.call("POST", "/contacts/bulk/business", json=body)

    def delete_remote(self, object_type: str, remote_id: str, obj: MirrorModel) -> None:
        if object_type == "appointment":
            self.call("DELETE", f"/calendars/events/{remote_id}", json={})
            return
        self.call("DELETE", self._path(object_type, obj, 1, remote_id))

    def find_remote(self, object_type: str, payload: dict, obj: MirrorModel) -> str | None:
        """Every object type: list what the CRM holds and match what we sent (lookup module)."""
        return find_created(self, object_type, payload, obj)

    def clear_value(self, object_type: str, remote_path: str) -> Any:
        return clear_value(object_type, remote_path)

    def run_action(self, action: dict[str, Any], obj: MirrorModel, remote_id: str) -> None:
        if action.get("type") != "add_to_workflow":
            raise self.unsupported(f"the action {action.get('type')!r}")
        if not remote_id:
            raise NotYet("The contact is not in the CRM yet.")
        path = f"/contacts/{remote_id}/workflow/{action['argument']}"
        self.call("POST", path, json={})

    # --- reads and admin operations ---------------------------------------------------

    def workflows(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        key = f"sync:highlevel:workflows:{self.connection.pk}"
        cached = None if refresh else cache.get(key)
        if cached is None:
            data = self.call("GET", "/workflows/", params={"locationId": self.location}).json()
            cached = data.get("workflows", [])
            cache.set(key, cached, LISTS_CACHE_SECONDS)
        return cached

    def custom_fields(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        """The location's contact custom fields ({id, name, fieldKey, dataType}), cached."""
        key = f"sync:highlevel:custom-fields:{self.connection.pk}"
        cached = None if refresh else cache.get(key)
        if cached is None:
            path = f"/locations/{self.location}/customFields"
            data = self.call("GET", path, params={"model": "contact"}).json()
            fields = data.get("customFields") or []
            cached = [f for f in fields if isinstance(f, dict) and f.get("id")]
            cache.set(key, cached, LISTS_CACHE_SECONDS)
        return cached

    def import_courses(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = {"locationId": self.location, **payload}
        return self.call("POST", "/courses/courses-exporter/public/import", json=body).json()

    def fetch_page(self, object_type: str, cursor: Any = None) -> Page:
        one_contact = bool((cursor or {}).get("contactId"))
        if object_type == "task" and not one_contact:
            return listings.search_tasks(self, cursor)
        if object_type == "appointment" and not one_contact:
            return listings.calendar_events(self, cursor)
        if object_type in CHILD_LISTS:
            return self._fetch_children(object_type, cursor or {})
        if object_type == "contact" and (cursor or {}).get("updatedSince"):
            return self._search_contacts(cursor)
        if object_type == "contact" and (cursor or {}).get("businessId"):
            return self._business_contacts(cursor)
        if object_type == "user":
            data = self.call("GET", "/users/", params={"locationId": self.location}).json()
            return Page(data.get("users", []))
        if object_type != "contact":
            raise self.unsupported(f"listing {object_type}s")
        params = {"locationId": self.location, "limit": 100, **(cursor or {})}
        data = self.call("GET", "/contacts/", params=params).json()
        meta, items = data.get("meta") or {}, data.get("contacts") or []
        return Page(items, _next_contacts_cursor(meta, items), meta.get("total"))

    # --- backfill / reconcile reads (ops) ---------------------------------------------
    # fetch_page("contact", {"updatedSince": iso, "searchAfter": [...]})  POST /contacts/search
    # fetch_page("task" | "note" | "appointment", {"contactId": id})     one contact's list
    # fetch_page("task" | "appointment", cursor without contactId)       the whole location's

    def _search_contacts(self, cursor: dict[str, Any]) -> Page:
        body: dict[str, Any] = {
            "locationId": self.location,
            "pageLimit": 100,
            "filters": [
                {
                    "field": "dateUpdated",
                    "operator": "range",
                    "value": {"gte": cursor["updatedSince"]},
                }
            ],
            "sort": [{"field": "dateUpdated", "direction": "asc"}],
        }
        if cursor.get("searchAfter"):
            body["searchAfter"] = cursor["searchAfter"]
        data = self.call("POST", "/contacts/search", json=body).json()
        items = data.get("contacts", [])
        last = items[-1].get("searchAfter") if items else None
        next_cursor = {**cursor, "searchAfter": last} if last and len(items) == 100 else None
        return Page(items, next_cursor, data.get("total"))

    def _business_contacts(self, cursor: dict[str, Any]) -> Page:
        """GET /contacts/business/{businessId}: offset paging (limit/skip, as strings)."""
        skip = int(cursor.get("skip") or 0)
        params = {"locationId": self.location, "limit": "100", "skip": str(skip)}
        path = f"/contacts/business/{cursor['businessId']}"
        data = self.call("GET", path, params=params).json()
        items = data.get("contacts") or []
        more = len(items) == 100
        next_cursor = {**cursor, "skip": skip + len(items)} if more else None
        return Page(items, next_cursor, data.get("count"))

    def _fetch_children(self, object_type: str, cursor: dict[str, Any]) -> Page:
        contact_id = cursor.get("contactId")
        if not contact_id:
            raise self.unsupported(f"listing {object_type}s without a contactId")
        path, key = CHILD_LISTS[object_type]
        data = self.call("GET", path.format(contact=contact_id)).json()
        items = data.get(key) or []
        if object_type == "appointment":
            items = listings.with_location_offsets(self, items)
        return Page(items)

    # --- helpers -------------------------------------------------------------------------

    def _path(self, object_type: str, obj: MirrorModel, which: int, remote_id: str = "") -> str:
        template = PATHS[object_type][which]
        contact = self._contact_id(obj) if "{contact}" in template else ""
        return template.format(id=remote_id, contact=contact)

    def _contact_id(self, obj: MirrorModel) -> str:
        link = (
            Link.objects.filter(
                connection=self.connection, object_type="contact", object_id=obj.contact_id
            )
            .exclude(remote_id="")
            .first()
        )
        if link is None:
            raise NotYet("Its contact is not in the CRM yet.")
        return link.remote_id

    def _body(self, object_type: str, payload: dict, obj: MirrorModel, *, create: bool) -> dict:
        body = dict(payload)
        if object_type == "contact":
            body.pop("businessId", None)  # not in the DTOs: see _set_business
        if object_type == "appointment":
            body.pop("contactId", None)
            if create:
                body.update(locationId=self.location, contactId=self._contact_id(obj))
        elif object_type == "contact" and create:
            body["locationId"] = self.location
        elif object_type == "task" and create:
            body.setdefault("completed", False)
            body.setdefault("dueDate", obj.created_at.isoformat())
        elif object_type == "user" and create:
            # The CRM requires a password; the user resets it. Never stored anywhere.
            body.update(companyId=self.connection.company_id, password=secrets.token_urlsafe(24))
        return body

    # --- inbound webhooks: read one record (added by the webhooks branch) ----------------

    def task_contact_id(self, task_id: str, title: str = "") -> str:
        """The contact of a task a delivery named without one ("" if the CRM has none)."""
        return task_contact_id(self, task_id, title)

    def fetch_record(self, object_type: str, remote_id: str, contact_id: str = "") -> dict:
        """One record as the CRM holds it now (for a webhook that lacks fields)."""
        if object_type in ("task", "note") and not contact_id:
            raise RemoteError(f"Reading a {object_type} needs its contact id.", permanent=True)
        path = {
            "contact": f"/contacts/{remote_id}",
            "user": f"/users/{remote_id}",
            "task": f"/contacts/{contact_id}/tasks/{remote_id}",
            "note": f"/contacts/{contact_id}/notes/{remote_id}",
            "appointment": f"/calendars/events/appointments/{remote_id}",
        }[object_type]
        data = self.call("GET", path).json()
        key = {"appointment": "event"}.get(object_type, object_type)
        record = data.get(key, data) if isinstance(data, dict) else None
        if not isinstance(record, dict):
            message = f"The CRM's {object_type} response carried no record."
            raise RemoteError(message, permanent=True)
        return record


def _next_contacts_cursor(meta: dict[str, Any], items: list) -> dict[str, Any] | None:
    """Where `GET /contacts/` goes on, or None at the end of the listing.

    Every `meta` field is optional in the spec: the CRM leaves `startAfterId` out on an empty
    page (an empty location, or the page after a last page of exactly 100), and a short page
    is the last one.
    """
    after_id = meta.get("startAfterId")
    if not after_id or len(items) < 100:
        return None
    cursor = {"startAfterId": after_id}
    if meta.get("startAfter") is not None:
        cursor["startAfter"] = meta["startAfter"]
    return cursor
