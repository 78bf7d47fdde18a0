"""Contacts: the records, their changes and the webhooks those changes fire.

Used by the API handlers, the HTML page and the Python helpers alike, so a change made
"in the CRM" looks the same to the portal whichever way it was made.
"""

from __future__ import annotations

from typing import Any

from .core import Core
from .util import ApiError, check_body, drop_none, iso_from_ms, new_id, not_found

KIND = "contact"

STR_FIELDS = (
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "source",
    "country",
    "companyName",
    "assignedTo",
    "gender",
)
OTHER_FIELDS = {"dnd": "bool", "tags": "list", "customFields": "list", "dndSettings": "dict"}
OTHER_FIELDS |= {"inboundDndSettings": "dict"}
DND_CHANNELS = ("Call", "Email", "SMS", "WhatsApp", "GMB", "FB")
FIELD_TYPES: dict[str, str] = {name: "str" for name in STR_FIELDS} | OTHER_FIELDS

# Fields of the documented webhook body (webhooks/Contact*.json), plus dateUpdated/dndSettings.
EVENT_FIELDS = (
    "locationId",
    "id",
    "address1",
    "city",
    "companyName",
    "country",
    "source",
    "dateAdded",
    "dateUpdated",
    "dateOfBirth",
    "dnd",
    "dndSettings",
    "email",
    "name",
    "firstName",
    "lastName",
    "phone",
    "postalCode",
    "state",
    "tags",
    "website",
    "attachments",
    "assignedTo",
    "customFields",
)


def validate(body: Any, *, create: bool) -> dict[str, Any]:
    required = {"locationId": "str"} if create else {}
    return check_body(body, required, FIELD_TYPES)


def _clean_tags(tags: list[Any]) -> list[str]:
    """Trim, drop empties and de-duplicate while keeping order."""
    seen: dict[str, None] = {}
    for tag in tags:
        text = str(tag).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def _custom_fields(items: list[Any]) -> list[dict[str, Any]]:
    """Inputs use ``{id|key, field_value}``; the CRM stores and returns ``{id, value}``."""
    out = []
    for item in items:
        if isinstance(item, dict) and (item.get("id") or item.get("key")):
            value = item.get("field_value", item.get("value"))
            out.append({"id": item.get("id") or item.get("key"), "value": value})
    return out


def _apply(record: dict[str, Any], body: dict[str, Any]) -> None:
    """Copy accepted fields and recompute the derived ones (name, *LowerCase)."""
    for name in FIELD_TYPES:
        if name in body:
            record[name] = body[name]
    if "dateOfBirth" in body:
        record["dateOfBirth"] = str(body["dateOfBirth"]) if body["dateOfBirth"] else None
    if "dnd" in body and "dndSettings" not in body and isinstance(body["dnd"], bool):
        # The CRM's global DND switch sets every channel (what ContactDndUpdate carries).
        status = "active" if body["dnd"] else "inactive"
        record["dndSettings"] = {channel: {"status": status} for channel in DND_CHANNELS}
    if record.get("tags") is not None:
        record["tags"] = _clean_tags(record["tags"])
    if "customFields" in body and body["customFields"] is not None:
        record["customFields"] = _custom_fields(body["customFields"])
    first, last = record.get("firstName") or "", record.get("lastName") or ""
    if "name" not in body or not body.get("name"):
        record["name"] = f"{first} {last}".strip() or None
    email = record.get("email")
    record["emailLowerCase"] = email.lower() if email else None
    record["firstNameLowerCase"] = first.lower() or None
    record["lastNameLowerCase"] = last.lower() or None
    record["fullNameLowerCase"] = (record.get("name") or "").lower() or None


def serialize(record: dict[str, Any]) -> dict[str, Any]:
    """API shape. ``attachments`` is left out: GetContectByIdSchema types it as a string
    while the webhook schema (and the record) use an array."""
    return drop_none({k: v for k, v in record.items() if k != "attachments"})


def event_payload(record: dict[str, Any]) -> dict[str, Any]:
    return drop_none({name: record.get(name) for name in EVENT_FIELDS})


def get(core: Core, contact_id: str) -> dict[str, Any]:
    record = core.store.get(KIND, contact_id)
    if record is None:
        raise not_found("Contact")
    return record


def _check_duplicate(core: Core, location_id: str, body: dict[str, Any]) -> None:
    if core.cfg.allow_duplicates:
        return
    dup, matched = core.store.find_duplicate(location_id, body.get("email"), body.get("phone"))
    if dup is not None:
        raise ApiError(
            400,
            "This location does not allow duplicated contacts.",
            meta={"contactName": dup.get("name"), "contactId": dup["id"], "matchingField": matched},
        )


def create(core: Core, body: dict[str, Any], *, emit: bool = True) -> dict[str, Any]:
    validate(body, create=True)
    _check_duplicate(core, body["locationId"], body)
    now = iso_from_ms(core.clock.now_ms())
    record: dict[str, Any] = {
        "id": new_id(),
        "locationId": body["locationId"],
        "type": "lead",
        "source": "public api",
        "tags": [],
        "customFields": [],
        "attachments": [],
        "dnd": False,
        "deleted": False,
        "dateAdded": now,
        "dateUpdated": now,
    }
    _apply(record, body)
    core.store.put(KIND, record)
    if emit:
        core.emit("ContactCreate", event_payload(record))
    return record


def update(core: Core, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Apply a partial update; fires ContactUpdate plus tag/DND events when those changed."""
    validate(body, create=False)
    record = get(core, contact_id)
    before = dict(record)
    _apply(record, body)
    record["dateUpdated"] = iso_from_ms(core.clock.now_ms())
    core.store.put(KIND, record)
    core.emit("ContactUpdate", event_payload(record))
    if before.get("tags") != record.get("tags"):
        core.emit("ContactTagUpdate", event_payload(record))
    if (before.get("dnd"), before.get("dndSettings")) != (
        record.get("dnd"),
        record.get("dndSettings"),
    ):
        core.emit("ContactDndUpdate", event_payload(record))
    return record


def delete(core: Core, contact_id: str) -> None:
    record = get(core, contact_id)
    core.store.delete(KIND, contact_id)
    core.store.delete_children(contact_id, ("task", "note"))  # they go with it
    core.emit("ContactDelete", event_payload(record))


def upsert(core: Core, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Match by email, then phone, within the location; returns (created, record)."""
    validate(body, create=True)
    dup, _ = core.store.find_duplicate(body["locationId"], body.get("email"), body.get("phone"))
    if dup is None or (body.get("createNewIfDuplicateAllowed") and core.cfg.allow_duplicates):
        return True, create(core, body)
    changes = {k: v for k, v in body.items() if k != "locationId"}
    return False, update(core, dup["id"], changes)


def change_tags(core: Core, contact_id: str, tags: list[str], *, add: bool) -> list[str]:
    record = get(core, contact_id)
    current = list(record.get("tags") or [])
    wanted = _clean_tags(tags)
    if add:
        new_tags = _clean_tags(current + wanted)
    else:
        drop = {t.lower() for t in wanted}
        new_tags = [t for t in current if t.lower() not in drop]
    if new_tags != current:
        record["tags"] = new_tags
        record["dateUpdated"] = iso_from_ms(core.clock.now_ms())
        core.store.put(KIND, record)
        core.emit("ContactTagUpdate", event_payload(record))
    return new_tags


def seed(core: Core, location_id: str, n: int, start: int = 0) -> list[dict[str, Any]]:
    """Insert ``n`` fake contacts in one transaction, without webhooks (for benchmarks)."""
    base = core.clock.now_ms()
    records = []
    for i in range(start, start + n):
        record: dict[str, Any] = {
            "id": new_id(),
            "locationId": location_id,
            "type": "lead",
            "source": "sandbox seed",
            "tags": ["seed"],
            "customFields": [],
            "attachments": [],
            "dnd": False,
            "deleted": False,
        }
        _apply(
            record,
            {
                "firstName": f"Seed{i}",
                "lastName": "Contact",
                "email": f"seed{i}@example.com",
                "phone": f"+1555{i:07d}",
            },
        )
        record["dateAdded"] = record["dateUpdated"] = iso_from_ms(base)
        records.append(record)
    core.store.put_many(KIND, records)
    return records
