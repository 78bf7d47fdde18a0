"""Contacts grouped by business (contacts.json: "Add/Remove Contacts From Business" and
"Get Contacts By BusinessId"). A contact's `businessId` is set only through the bulk call —
the create and update DTOs do not carry it — and read back on the contact and in listings."""

from __future__ import annotations

from typing import Any

from . import contacts
from .core import Core
from .util import ApiError, check_body, iso_from_ms

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def set_business(core: Core, body: Any) -> dict[str, Any]:
    """``POST /contacts/bulk/business``; a null businessId removes the contacts from theirs."""
    check_body(body, {"locationId": "str", "ids": "list"}, {"businessId": "str"})
    if "businessId" not in body:
        raise ApiError(422, ["businessId must be a string or null"])
    changed = []
    for contact_id in body["ids"]:
        record = core.store.get(contacts.KIND, str(contact_id))
        if record is None or record.get("locationId") != body["locationId"]:
            continue
        record["businessId"] = body["businessId"]
        record["dateUpdated"] = iso_from_ms(core.clock.now_ms())
        core.store.put(contacts.KIND, record)
        changed.append(record["id"])
    return {"success": True, "ids": changed}


def _number(value: Any, name: str, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        raise ApiError(422, [f"{name} must be a number string"]) from None


def list_by_business(core: Core, business_id: str, params: dict[str, str]) -> dict[str, Any]:
    """``GET /contacts/business/{businessId}``: ``{"contacts": [...], "count": n}``."""
    location_id = params.get("locationId")
    if not location_id:
        raise ApiError(422, ["locationId should not be empty"])
    limit = _number(params.get("limit"), "limit", DEFAULT_LIMIT)
    skip = _number(params.get("skip"), "skip", 0)
    if not 1 <= limit <= MAX_LIMIT or skip < 0:
        raise ApiError(422, [f"limit must be 1 to {MAX_LIMIT} and skip not negative"])
    text = (params.get("query") or "").lower()
    matching = [
        record
        for record in core.store.all(contacts.KIND, location_id)
        if record.get("businessId") == business_id
        and text in (record.get("fullNameLowerCase") or "") + (record.get("email") or "")
    ]
    page = matching[skip : skip + limit]
    return {"contacts": [contacts.serialize(r) for r in page], "count": len(matching)}
