"""The CRM connector (HighLevel / LeadConnector API v2). Field maps: highlevel_fields.py;
OAuth 2.0: highlevel_oauth.py. Every request validates against tests/specs/highlevel/."""

import secrets
from typing import Any

from django.core.cache import cache

from contacts.models import MirrorModel
from sync.connectors.base import Connector, Page, TestResult, checked_url
from sync.connectors.highlevel_fields import DEFAULT_MAPPINGS, clear_value
from sync.connectors.highlevel_lookup import find_created
from sync.connectors.highlevel_oauth import access_token, refresh_tokens
from sync.http import NotYet, RemoteError
from sync.models import Link
from sync.services import workspace_for_location

API_VERSION = "2021-07-28"
CALENDARS_API_VERSION = "2021-04-15"  # the calendars API pins its own version
REQUIRED_SCOPES = (
    "contacts.readonly",
    "contacts.write",
    "users.readonly",
    "users.write",
    "workflows.readonly",
    "calendars/events.write",
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


class HighLevelConnector(Connector):
    provider = "highlevel"
    default_mappings = DEFAULT_MAPPINGS
    default_headers = {"Version": API_VERSION, "Accept": "application/json"}

    @classmethod
    def add_command_arguments(cls, parser: Any) -> None:
        parser.add_argument("--base-url", default="https://services.leadconnectorhq.com")
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
        workspace = workspace_for_location(options["location_id"], actor=actor)
        credentials = (
            {"token": token} if token else {"client_id": client_id, "client_secret": secret}
        )
        return workspace, {
            "base_url": checked_url(options["base_url"]),
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
        return str(remote_id)

    def update_remote(self, object_type: str, remote_id: str, payload: dict, obj) -> None:
        path = self._path(object_type, obj, 1, remote_id)
        changed = set(self.change.changed_fields) if self.change else set()
        if object_type == "task" and changed == {"completed"}:
            self.call("PUT", path + "/completed", json={"completed": obj.completed})
            return
        self.call("PUT", path, json=self._body(object_type, payload, obj, create=False))

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
        if object_type in CHILD_LISTS:
            return self._fetch_children(object_type, cursor or {})
        if object_type == "contact" and (cursor or {}).get("updatedSince"):
            return self._search_contacts(cursor)
        if object_type == "user":
            data = self.call("GET", "/users/", params={"locationId": self.location}).json()
            return Page(data.get("users", []))
        if object_type != "contact":
            raise self.unsupported(f"listing {object_type}s")
        params = {"locationId": self.location, "limit": 100, **(cursor or {})}
        data = self.call("GET", "/contacts/", params=params).json()
        meta, items = data.get("meta") or {}, data.get("contacts", [])
        more = meta.get("startAfterId") and len(items) == 100
        next_cursor = {"startAfterId": meta["startAfterId"], "startAfter": meta.get("startAfter")}
        return Page(items, next_cursor if more else None, meta.get("total"))

    # --- backfill / reconcile reads (ops) ---------------------------------------------
    # fetch_page("contact", {"updatedSince": iso, "searchAfter": [...]})  POST /contacts/search
    # fetch_page("task" | "note" | "appointment", {"contactId": id})     one contact's list

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

    def _fetch_children(self, object_type: str, cursor: dict[str, Any]) -> Page:
        contact_id = cursor.get("contactId")
        if not contact_id:
            raise self.unsupported(f"listing {object_type}s without a contactId")
        path, key = CHILD_LISTS[object_type]
        data = self.call("GET", path.format(contact=contact_id)).json()
        return Page(data.get(key) or [])

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
