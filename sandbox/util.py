"""Small shared helpers: ids, timestamps, API errors and request-body checks.

Kept free of any Django import so the sandbox runs with zero portal configuration.
"""

from __future__ import annotations

import re
import secrets
import string
import threading
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

_ID_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """Return a 20-char alphanumeric id, the shape the CRM uses (e.g. ``ocQHyuzHvysMo5N5VsXc``)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


def iso_from_ms(ms: int) -> str:
    """Format epoch milliseconds like the CRM: ``2021-07-02T05:18:26.704Z``."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ms_from_iso(value: Any) -> int | None:
    """Parse an ISO 8601 string (or epoch-ms number) to epoch ms; ``None`` if unparseable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str) or not value:
        return None
    if value.isdigit():
        return int(value)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def now_iso() -> str:
    """Current time as ISO 8601 UTC with milliseconds (wall clock, for webhook timestamps)."""
    return iso_from_ms(int(time.time() * 1000))


class Clock:
    """Strictly increasing millisecond clock.

    Every write gets a distinct ``dateUpdated`` so sync cursors built on it never see two
    sandbox changes with the same timestamp (keeps tests deterministic). Under a burst of
    more than 1000 writes/s the clock runs slightly ahead of wall time and then catches up.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, int(time.time() * 1000))
            return self._last


class ApiError(Exception):
    """An error answered with the CRM's error body (common/common-schemas.json shapes)."""

    _ERRORS = {
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        422: "Unprocessable Entity",
        429: "Too Many Requests",
    }

    def __init__(self, status: int, message: str | list[str], **extra: Any) -> None:
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"statusCode": self.status, "message": self.message}
        if self.status in self._ERRORS and self.status != 400:
            body["error"] = self._ERRORS[self.status]
        body.update(self.extra)
        return body


def not_found(what: str) -> ApiError:
    """The CRM documents only 400/401/422 for these operations, so 'not found' is a 400."""
    return ApiError(400, f"{what} not found")


_TYPE_NAMES = {str: "a string", bool: "a boolean", list: "an array", dict: "an object"}
_PY_TYPES: dict[str, type] = {"str": str, "bool": bool, "list": list, "dict": dict}


def check_body(
    body: Any, required: dict[str, str] | None = None, optional: dict[str, str] | None = None
) -> dict[str, Any]:
    """Validate a JSON object body the way the CRM's class-validator does, or raise 422.

    ``required``/``optional`` map field name to one of ``str``, ``bool``, ``list``, ``dict``.
    Optional fields may be ``null`` (the spec marks most as nullable). Unknown fields are kept.
    """
    if not isinstance(body, dict):
        raise ApiError(422, ["body must be a JSON object"])
    errors: list[str] = []
    for name, kind in (required or {}).items():
        value = body.get(name)
        if value is None or value == "":
            errors.append(f"{name} should not be empty")
        elif not isinstance(value, _PY_TYPES[kind]):
            errors.append(f"{name} must be {_TYPE_NAMES[_PY_TYPES[kind]]}")
    for name, kind in (optional or {}).items():
        value = body.get(name)
        if value is not None and not isinstance(value, _PY_TYPES[kind]):
            errors.append(f"{name} must be {_TYPE_NAMES[_PY_TYPES[kind]]}")
    if errors:
        raise ApiError(422, errors)
    return body


def digits(phone: Any) -> str:
    """Phone numbers compare on digits only ("+1 888-888-8888" == "+18888888888")."""
    return re.sub(r"\D", "", phone) if isinstance(phone, str) else ""


def drop_none(record: dict[str, Any]) -> dict[str, Any]:
    """Omit null fields: the CRM leaves absent fields out and the response schemas are not
    nullable, so ``"email": null`` would not match the spec."""
    return {k: v for k, v in record.items() if v is not None}


def local_time(value: Any, zone: str) -> Any:
    """``2021-07-16 11:00:00``: an instant as the location's wall clock, without an offset
    (how ``GET /contacts/{id}/appointments`` writes its times)."""
    ms = ms_from_iso(value)
    if ms is None:
        return value
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M:%S")
