"""HTTP layer: a stdlib ``ThreadingHTTPServer`` that runs each CRM API request through
auth -> Version -> rate limit -> fault injection -> route, like the real service's gateway.

Also serves the HTML page (``/``) and the unauthenticated loopback control endpoints
(``/_sandbox/...``), and logs one line per request to the ``sandbox_crm`` logger (the
bearer token is never logged).
"""

from __future__ import annotations

import json
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import api, control
from .core import Core
from .util import ApiError

log = logging.getLogger("sandbox_crm")

_FAULT_MESSAGES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def _location(req: api.Request, default: str) -> str:
    """The location a request counts against (the CRM limits per app *and* location)."""
    if req.query.get("locationId"):
        return req.query["locationId"]
    if isinstance(req.body, dict) and isinstance(req.body.get("locationId"), str):
        return req.body["locationId"]
    return default


def _parse_json(raw: bytes) -> tuple[Any, str | None]:
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"Unexpected token in JSON at position {getattr(exc, 'pos', 0)}"


def _error(exc: ApiError) -> api.Response:
    return api.Response(exc.status, exc.body())


def handle_api(core: Core, req: api.Request, raw: bytes) -> api.Response:
    """The CRM gateway pipeline for one API request (everything except ``/`` and
    ``/_sandbox/``)."""
    core.stats.inc("requests")
    cfg = core.cfg
    if cfg.latency_ms > 0:
        time.sleep(cfg.latency_ms / 1000)
    req.body, json_error = _parse_json(raw)
    auth = req.headers.get("Authorization") or ""
    scheme, _, token = auth.partition(" ")
    key = core.limiter.key(token.strip(), _location(req, cfg.location_id))
    if scheme.lower() != "bearer" or token.strip() != cfg.token:
        resp = _error(ApiError(401, "Invalid token: access token is invalid"))
        resp.headers.update(core.limiter.peek(key))
        return resp
    if not req.headers.get("Version"):
        resp = _error(ApiError(400, "version header was not found"))
        resp.headers.update(core.limiter.peek(key))
        return resp
    decision = core.limiter.hit(key)
    if decision.allowed:
        resp = _dispatch(core, req, json_error)
    else:
        core.stats.inc("rate_limited")
        resp = _error(ApiError(429, "Too Many Requests"))
        resp.headers["Retry-After"] = str(decision.retry_after)
    resp.headers.update(decision.headers)
    return resp


def _dispatch(core: Core, req: api.Request, json_error: str | None) -> api.Response:
    fault = core.draw_fault()
    if fault == 429:
        core.stats.inc("throttled_injected")
        resp = _error(ApiError(429, "Too Many Requests"))
        resp.headers["Retry-After"] = "1"
        return resp
    if fault is not None:
        core.stats.inc("errors_injected")
        return api.Response(fault, {"statusCode": fault, "message": _FAULT_MESSAGES[fault]})
    hold = core.draw_timeout()
    if hold:
        core.stats.inc("timeouts_injected")
        time.sleep(hold)
    if json_error:
        return _error(ApiError(400, json_error))
    found = api.resolve(req.method, req.path)
    if found is None:
        return _error(ApiError(404, f"Cannot {req.method} {req.path}"))
    handler, params = found
    try:
        if req.method == "GET":
            return handler(core, req, **params)
        with core.write_lock:
            return handler(core, req, **params)
    except ApiError as exc:
        return _error(exc)
    except Exception:
        log.exception("sandbox handler crashed: %s %s", req.method, req.path)
        return api.Response(500, {"statusCode": 500, "message": "Internal server error"})


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], core: Core) -> None:
        self.core = core
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks reuse connections
    server_version = "SandboxCRM/1.0"
    timeout = 30  # idle keep-alive connections are closed after this
    # Send headers + body in one segment: without these, Nagle + delayed ACK add ~40 ms to
    # every keep-alive response, which would dominate any benchmark.
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered; BaseHTTPRequestHandler flushes after each request
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)

    def _handle(self, method: str) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        req = api.Request(
            method=method,
            path=parts.path,
            query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            headers=self.headers,
            body=None,
            base_url=f"http://{self.headers.get('Host') or self._own_host()}",
        )
        core = self.server.core
        if parts.path == "/" or parts.path.startswith("/_sandbox/"):
            resp = control.handle(core, req, raw)
        else:
            resp = handle_api(core, req, raw)
        self._send(resp)
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s %d %.1fms", method, self.path, resp.status, elapsed)

    def _own_host(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def _send(self, resp: api.Response) -> None:
        if resp.body is None:
            payload = b""
        elif isinstance(resp.body, str | bytes):
            payload = resp.body.encode() if isinstance(resp.body, str) else resp.body
        else:
            payload = json.dumps(resp.body, separators=(",", ":")).encode()
        self.send_response(resp.status)
        content_type = resp.content_type
        if content_type == "application/json":
            content_type += "; charset=utf-8"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
