"""What the stand-ins share: a small JSON API on 127.0.0.1, served from a daemon thread.

A stand-in subclasses `JsonStandIn` and says who may call (`authorized(headers)`), what each
call answers (`handle(method, path, query, body) -> (status, body)`) and what its HTML page at
`/` shows (`page()`). Bodies are JSON both ways; a body that is not JSON gets 400.
"""

from __future__ import annotations

import abc
import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


class JsonStandIn(abc.ABC):
    def serve_on(self, port: int) -> None:
        """Bind 127.0.0.1:`port` (0: any free port); `start()` then serves."""
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @abc.abstractmethod
    def authorized(self, headers: Mapping[str, str]) -> bool:
        """May the caller with these headers use the API?"""

    @abc.abstractmethod
    def handle(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        """An authorised call's status and JSON body."""

    @abc.abstractmethod
    def page(self) -> str:
        """The HTML page at `/` (no key needed: what a person at the stand-in's desk sees)."""


def _handler(standin: JsonStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet: the demo's console is the portal's
            return

        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = b"" if body is None else (
                body if isinstance(body, str) else json.dumps(body)
            ).encode()  # fmt: skip
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
            if not standin.authorized(self.headers):
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

        def do_PATCH(self) -> None:
            self._api("PATCH")

        def do_DELETE(self) -> None:
            self._api("DELETE")

    return Handler
