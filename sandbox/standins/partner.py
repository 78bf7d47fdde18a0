"""A small stand-in partner app: contacts with a cursor listing and HMAC-signed webhooks.

    GET    /api/contacts?updatedSince=T&cursor=C&limit=N   oldest change first:
                                   {"data": [...], "meta": {"nextCursor": C | null}}
    GET    /api/contacts/{id}      {"data": {...}} (404 if unknown)
    POST   /api/contacts           create: {"data": {...}} (201)
    PATCH  /api/contacts/{id}      change the fields sent (PUT too)
    DELETE /api/contacts/{id}
    GET    /                       an HTML page listing the contacts

Every API call needs `X-API-Key: <key>`. Records: {id, firstName, lastName, email, phone, city,
updatedAt}; every change moves `updatedAt` on (strictly: two changes never share a moment).
`add`/`change` are the partner's own users at work; `send_webhook` posts
{"event": "contact.updated", "data": record} signed `X-Partner-Signature: sha256=<hex HMAC>`.
Given `notify=(url, secret)`, every change made through the API is announced so, from a
background thread (as a partner app's webhooks are: after the change, never inside it).
`PartnerStandIn(api_key, clock=...).start()` serves on 127.0.0.1 in a daemon thread; state is
in memory (or in `state_file`, JSON). The connection config that reads it:
`connection_options()`; its field mappings: `MAPPINGS`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.standins.serving import JsonStandIn

COLLECTION = "/api/contacts"
FIELDS = ("firstName", "lastName", "email", "phone", "city")
SIGNATURE_HEADER = "X-Partner-Signature"


class PartnerStandIn(JsonStandIn):
    def __init__(
        self,
        api_key: str,
        port: int = 0,
        clock=time.time,
        page_size: int = 50,
        notify: tuple[str, str] | None = None,
        state_file: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.notify = notify
        self.state_file = Path(state_file) if state_file else None
        self.clock = clock
        self.page_size = page_size
        self.contacts: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API call
        self.announcements: list[threading.Thread] = []  # webhooks being sent (tests join them)
        self.lock = threading.Lock()
        self._last_change = 0.0
        self._next_id = 1
        if self.state_file and self.state_file.exists():  # the demo's partner outlives a restart
            self.contacts = json.loads(self.state_file.read_text())
            self._next_id = 1 + max((int(i.lstrip("p")) for i in self.contacts), default=0)
        self.serve_on(port)

    def authorized(self, headers: Mapping[str, str]) -> bool:
        return headers.get("X-API-Key") == self.api_key

    # --- the partner's own users --------------------------------------------------------

    def add(self, **fields: Any) -> dict[str, Any]:
        with self.lock:
            return self._create(fields)

    def change(self, contact_id: str, **fields: Any) -> dict[str, Any]:
        with self.lock:
            return self._update(contact_id, fields)

    @staticmethod
    def signed_delivery(
        secret: str, record: dict[str, Any], event: str = "contact.updated"
    ) -> tuple[bytes, dict[str, str]]:
        """The webhook's body and headers, as `send_webhook` posts them."""
        body = json.dumps({"event": event, "data": record}).encode()
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return body, {"Content-Type": "application/json", SIGNATURE_HEADER: f"sha256={digest}"}

    def send_webhook(
        self, url: str, secret: str, record: dict[str, Any], event: str = "contact.updated"
    ) -> tuple[int, Any]:
        body, headers = self.signed_delivery(secret, record, event)
        request = urllib.request.Request(  # noqa: S310 - the demo's or a test's own URL
            url, data=body, method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
        except OSError as exc:  # the receiver is down: a real partner would retry later
            return 0, str(exc)

    # --- the API ------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        status, answer = self._handle(method, path, query, body)
        if self.state_file and method != "GET" and status < 300:
            with self.lock:
                self.state_file.write_text(json.dumps(self.contacts))
        if self.notify and method != "GET" and status < 300:
            record = answer["data"] if answer else {"id": path.rsplit("/", 1)[-1]}
            event = {"POST": "contact.created", "DELETE": "contact.deleted"}.get(method)
            self._announce(record, event or "contact.updated")
        return status, answer

    def _announce(self, record: dict[str, Any], event: str) -> None:
        url, secret = self.notify
        thread = threading.Thread(
            target=self.send_webhook, args=(url, secret, record, event), daemon=True
        )
        self.announcements.append(thread)
        thread.start()

    def _handle(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, path))
            if path.rstrip("/") == COLLECTION:
                if method == "GET":
                    return self._list(query)
                if method == "POST" and isinstance(body, dict):
                    return 201, {"data": self._create(body)}
                return 422 if method == "POST" else 405, {"message": "Send a JSON object."}
            if path.startswith(COLLECTION + "/"):
                return self._one(method, path.removeprefix(COLLECTION + "/"), body)
        return 404, {"message": "Not found"}

    def _list(self, query: dict) -> tuple[int, Any]:
        since = _first(query, "updatedSince")
        after = _first(query, "cursor")
        limit = int(_first(query, "limit") or self.page_size)
        ordered = sorted(self.contacts.values(), key=_position)
        if since:
            ordered = [c for c in ordered if _moment(c["updatedAt"]) >= _moment(since)]
        if after:
            at, _, last_id = after.partition("|")
            ordered = [c for c in ordered if _position(c) > (_moment(at), last_id)]
        page = ordered[:limit]
        more = len(ordered) > limit
        next_cursor = f"{page[-1]['updatedAt']}|{page[-1]['id']}" if more else None
        return 200, {"data": page, "meta": {"nextCursor": next_cursor}}

    def _one(self, method: str, contact_id: str, body: Any) -> tuple[int, Any]:
        if contact_id not in self.contacts:
            return 404, {"message": "Contact not found"}
        if method == "GET":
            return 200, {"data": self.contacts[contact_id]}
        if method in ("PATCH", "PUT") and isinstance(body, dict):
            return 200, {"data": self._update(contact_id, body)}
        if method == "DELETE":
            del self.contacts[contact_id]
            return 204, None
        return 405, {"message": "Method not allowed"}

    def _create(self, fields: dict[str, Any]) -> dict[str, Any]:
        contact_id = f"p{self._next_id}"
        self._next_id += 1
        self.contacts[contact_id] = {"id": contact_id, **dict.fromkeys(FIELDS)}
        return self._update(contact_id, fields)

    def _update(self, contact_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        record = self.contacts[contact_id]
        record.update({k: v for k, v in fields.items() if k in FIELDS})
        record["updatedAt"] = self._tick()
        return dict(record)

    def _tick(self) -> str:
        self._last_change = max(self.clock(), self._last_change + 0.001)
        return datetime.fromtimestamp(self._last_change, tz=UTC).isoformat(timespec="milliseconds")

    def page(self) -> str:
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c.get(k) or ''))}</td>"
                             for k in ("id", *FIELDS, "updatedAt")) + "</tr>"
            for c in sorted(self.contacts.values(), key=_position)
        )  # fmt: skip
        heads = "".join(f"<th>{k}</th>" for k in ("id", *FIELDS, "updatedAt"))
        return (
            "<!doctype html><title>Partner app (stand-in)</title>"
            f"<h1>Contacts: {len(self.contacts)}</h1><p>Reload to refresh.</p>"
            f"<table border=1><tr>{heads}</tr>{rows}</table>"
        )


def connection_options(page_size: int = 50) -> dict[str, Any]:
    """A REST connection's options for this stand-in (what an operator would type)."""
    return {
        "auth": {"type": "api_key", "header": "X-API-Key", "prefix": ""},
        "objects": {
            "contact": {
                "create": {"method": "POST", "path": COLLECTION, "id_path": "data.id"},
                "update": {"method": "PATCH", "path": COLLECTION + "/{id}"},
                "delete": {"method": "DELETE", "path": COLLECTION + "/{id}"},
                "list": {
                    "path": COLLECTION,
                    "params": {"limit": str(page_size)},
                    "cursor_param": "cursor",
                    "next_cursor_path": "meta.nextCursor",
                    "updated_since_param": "updatedSince",
                    "items_path": "data",
                    "id_path": "id",
                    "updated_at_path": "updatedAt",
                },
                "get": {"path": COLLECTION + "/{id}", "record_path": "data"},
            }
        },
        "webhooks": {
            "signature": {"scheme": "hmac-sha256", "header": SIGNATURE_HEADER,
                          "encoding": "hex", "prefix": "sha256="},
            "event_type_path": "event",
            "record_path": "data",
            "record_id_path": "data.id",
            "updated_at_path": "data.updatedAt",
            "events": {"contact.created": {"object_type": "contact", "operation": "upsert"},
                       "contact.updated": {"object_type": "contact", "operation": "upsert"},
                       "contact.deleted": {"object_type": "contact", "operation": "delete"}},
        },
        "test": {"method": "GET", "path": COLLECTION + "?limit=1"},
    }  # fmt: skip


# The stand-in's fields, mapped to the mirror's (FieldMapping rows, both ways).
MAPPINGS = [
    {"mirror_field": "first_name", "remote_path": "firstName"},
    {"mirror_field": "last_name", "remote_path": "lastName"},
    {"mirror_field": "email", "remote_path": "email"},
    {"mirror_field": "phone", "remote_path": "phone"},
    {"mirror_field": "city", "remote_path": "city"},
]


def _first(query: dict, name: str) -> str:
    return (query.get(name) or [""])[0]


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _position(contact: dict[str, Any]) -> tuple[datetime, str]:
    return _moment(contact["updatedAt"]), contact["id"]
