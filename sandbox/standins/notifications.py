"""A small stand-in for the notification platform's subscribers API (demos and tests).

    POST   /v1/subscribers                   create (409 if the subscriberId exists)
    POST   /v1/subscribers/bulk              create up to 500
    GET    /v1/subscribers?limit=N           list
    GET    /v1/subscribers/{id}              read (404 if unknown)
    PUT    /v1/subscribers/{id}              update
    DELETE /v1/subscribers/{id}              delete
    GET    /                                 an HTML page listing the subscribers

Every API call needs `Authorization: ApiKey <key>`. Subscribers live in memory (a restart
forgets them). `NotificationStandIn(api_key).start()` serves on 127.0.0.1 in a daemon thread.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping
from typing import Any

from sandbox.standins.serving import JsonStandIn

COLLECTION = "/v1/subscribers"
BULK_LIMIT = 500


class NotificationStandIn(JsonStandIn):
    def __init__(self, api_key: str, port: int = 0) -> None:
        self.api_key = api_key
        self.subscribers: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API call
        self.lock = threading.Lock()
        self.serve_on(port)

    def authorized(self, headers: Mapping[str, str]) -> bool:
        return headers.get("Authorization") == f"ApiKey {self.api_key}"

    # --- the API ------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, path))
            if path.rstrip("/") == COLLECTION:
                return self._collection(method, query, body)
            if path == f"{COLLECTION}/bulk" and method == "POST":
                return self._bulk(body)
            if path.startswith(COLLECTION + "/"):
                return self._one(method, path.removeprefix(COLLECTION + "/"), body)
        return 404, {"message": "Not found"}

    def _collection(self, method: str, query: dict, body: Any) -> tuple[int, Any]:
        if method == "GET":
            limit = int((query.get("limit") or ["50"])[0])
            return 200, {"data": list(self.subscribers.values())[:limit]}
        if method != "POST":
            return 405, {"message": "Method not allowed"}
        if not isinstance(body, dict) or not body.get("subscriberId"):
            return 422, {"message": "subscriberId is required"}
        if body["subscriberId"] in self.subscribers:
            return 409, {"message": "Subscriber already exists"}
        self.subscribers[body["subscriberId"]] = body
        return 201, {"data": body}

    def _bulk(self, body: Any) -> tuple[int, Any]:
        items = body.get("subscribers") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) > BULK_LIMIT:
            return 422, {"message": f"subscribers: a list of at most {BULK_LIMIT}"}
        for item in items:
            self.subscribers[item["subscriberId"]] = item
        return 201, {"data": {"created": len(items)}}

    def _one(self, method: str, subscriber_id: str, body: Any) -> tuple[int, Any]:
        if subscriber_id not in self.subscribers:
            return 404, {"message": "Subscriber not found"}
        if method == "GET":
            return 200, {"data": self.subscribers[subscriber_id]}
        if method == "PUT" and isinstance(body, dict):
            self.subscribers[subscriber_id] = {**self.subscribers[subscriber_id], **body}
            return 200, {"data": self.subscribers[subscriber_id]}
        if method == "DELETE":
            del self.subscribers[subscriber_id]
            return 200, {"data": {"deleted": True}}
        return 405, {"message": "Method not allowed"}

    def page(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(s.get('subscriberId')))}</td>"
            f"<td>{html.escape(str(s.get('firstName') or ''))} "
            f"{html.escape(str(s.get('lastName') or ''))}</td>"
            f"<td>{html.escape(str(s.get('email') or ''))}</td></tr>"
            for s in list(self.subscribers.values())
        )
        return (
            "<!doctype html><title>Notification platform (stand-in)</title>"
            f"<h1>Subscribers: {len(self.subscribers)}</h1><p>Reload to refresh.</p>"
            f"<table border=1><tr><th>id</th><th>name</th><th>e-mail</th></tr>{rows}</table>"
        )
