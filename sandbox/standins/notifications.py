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
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

COLLECTION = "/v1/subscribers"
BULK_LIMIT = 500


class NotificationStandIn:
    def __init__(self, api_key: str, port: int = 0) -> None:
        self.api_key = api_key
        self.subscribers: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API call
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> NotificationStandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

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


def _handler(standin: NotificationStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet: the demo's console is the portal's
            return

        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _api(self, method: str) -> None:
            parts = urlsplit(self.path)
            if method == "GET" and parts.path == "/":
                self._send(200, standin.page(), "text/html; charset=utf-8")
                return
            if self.headers.get("Authorization") != f"ApiKey {standin.api_key}":
                self._send(401, {"message": "Invalid API key"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError:
                self._send(400, {"message": "Invalid JSON"})
                return
            self._send(*standin.handle(method, parts.path, parse_qs(parts.query), body))

        def do_GET(self) -> None:
            self._api("GET")

        def do_POST(self) -> None:
            self._api("POST")

        def do_PUT(self) -> None:
            self._api("PUT")

        def do_DELETE(self) -> None:
            self._api("DELETE")

    return Handler
