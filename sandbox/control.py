"""Loopback-only extras: the HTML page and the ``/_sandbox/`` control endpoints.

Not auth-protected and not rate limited: they are tools for whoever runs the sandbox
(stats for benchmarks, runtime knobs for fault-injection tests, a reset between runs).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from . import page
from .api import Request, Response
from .core import Core


def _json_body(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _bad(message: str) -> Response:
    return Response(400, {"statusCode": 400, "message": message})


def handle(core: Core, req: Request, raw: bytes) -> Response:
    """Route ``/`` and ``/_sandbox/...`` requests."""
    path, method = req.path.rstrip("/") or "/", req.method
    if path == "/" and method == "GET":
        return page.render(core, edit_id=req.query.get("edit"))
    if path.startswith("/_sandbox/ui/contacts") and method == "POST":
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        contact_id = path.removeprefix("/_sandbox/ui/contacts").strip("/") or None
        return page.submit(core, contact_id, form)
    if path == "/_sandbox/stats" and method == "GET":
        return Response(200, core.snapshot_stats())
    if path == "/_sandbox/config" and method == "GET":
        return Response(200, core.runtime_config())
    if path == "/_sandbox/config" and method == "POST":
        return _configure(core, raw)
    if path == "/_sandbox/reset" and method == "POST":
        core.reset()
        return Response(200, {"reset": True})
    if path == "/_sandbox/public-key" and method == "GET":
        return Response(200, core.public_key_pem, content_type="application/x-pem-file")
    return Response(404, {"statusCode": 404, "message": f"Cannot {method} {req.path}"})


def _configure(core: Core, raw: bytes) -> Response:
    body = _json_body(raw)
    if body is None:
        return _bad("body must be a JSON object")
    try:
        return Response(200, core.configure(**body))
    except (TypeError, ValueError) as exc:
        return _bad(str(exc))
