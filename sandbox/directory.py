"""Users (``/users/``), demo workflows (``/workflows/``) and course imports."""

from __future__ import annotations

import uuid
from typing import Any

from . import contacts
from .core import Core
from .util import ApiError, check_body, drop_none, iso_from_ms, new_id, not_found

USER_KIND = "user"
USER_FIELDS = {
    "companyId": "str",
    "firstName": "str",
    "lastName": "str",
    "email": "str",
    "phone": "str",
    "type": "str",
    "role": "str",
    "locationIds": "list",
    "permissions": "dict",
}
USER_REQUIRED = dict.fromkeys(("companyId", "firstName", "lastName", "email", "password"), "str")
USER_REQUIRED |= {"type": "str", "role": "str", "locationIds": "list"}
DEFAULT_PERMISSIONS = {
    "campaignsEnabled": True,
    "contactsEnabled": True,
    "workflowsEnabled": True,
    "appointmentsEnabled": True,
    "conversationsEnabled": True,
    "opportunitiesEnabled": True,
    "settingsEnabled": True,
    "tagsEnabled": True,
    "assignedDataOnly": False,
}
DEMO_WORKFLOWS = (
    ("Welcome new lead", "published", 3),
    ("Appointment reminder", "published", 2),
    ("Re-engage cold contacts", "draft", 1),
)
WORKFLOW_DATE = "2024-01-15T09:30:00.000Z"


# -- users --------------------------------------------------------------------------------
def _apply_user(record: dict[str, Any], body: dict[str, Any]) -> None:
    for name in ("firstName", "lastName", "email", "phone", "companyId"):
        if body.get(name) is not None:
            record[name] = body[name]
    if body.get("permissions") is not None:
        record["permissions"] = {**record.get("permissions", {}), **body["permissions"]}
    roles = record.setdefault("roles", {"restrictSubAccount": False})
    for name in ("type", "role", "locationIds"):
        if body.get(name) is not None:
            roles[name] = body[name]
    record["name"] = f"{record.get('firstName', '')} {record.get('lastName', '')}".strip()
    # The password is accepted (the spec requires it) but never stored.


def serialize_user(record: dict[str, Any]) -> dict[str, Any]:
    return drop_none({k: v for k, v in record.items() if k != "companyId"})


def get_user(core: Core, user_id: str) -> dict[str, Any]:
    record = core.store.get(USER_KIND, user_id)
    if record is None:
        raise not_found("User")
    return record


def create_user(core: Core, body: Any) -> dict[str, Any]:
    check_body(body, USER_REQUIRED, USER_FIELDS)
    now = iso_from_ms(core.clock.now_ms())
    record: dict[str, Any] = {
        "id": new_id(),
        "extension": "",
        "permissions": dict(DEFAULT_PERMISSIONS),
        "deleted": False,
        "dateAdded": now,
        "dateUpdated": now,
    }
    _apply_user(record, body)
    record["locationId"] = (record["roles"].get("locationIds") or [None])[0]
    core.store.put(USER_KIND, record)
    core.emit("UserCreate", _user_event(record))
    return record


def _user_event(record: dict[str, Any]) -> dict[str, Any]:
    """Shaped like webhooks/UserCreate.json (``role`` and ``locations`` at the top level)."""
    roles = record.get("roles", {})
    fields = ("companyId", "id", "firstName", "lastName", "email", "phone", "extension")
    event = {name: record.get(name) for name in fields}
    event |= {"role": roles.get("role"), "permissions": record.get("permissions")}
    event["locations"] = roles.get("locationIds", [])
    return drop_none(event)


def update_user(core: Core, user_id: str, body: Any) -> dict[str, Any]:
    check_body(body, None, USER_FIELDS)
    record = get_user(core, user_id)
    _apply_user(record, body)
    record["dateUpdated"] = iso_from_ms(core.clock.now_ms())
    core.store.put(USER_KIND, record)
    return record


def delete_user(core: Core, user_id: str) -> dict[str, Any]:
    record = get_user(core, user_id)
    core.store.delete(USER_KIND, user_id)
    message = (
        f"Queued deleting user with e-mail {record.get('email')} and name {record.get('name')}."
        " Will take effect in a few minutes."
    )
    return {"succeded": True, "message": message}


def users_for_location(core: Core, location_id: str | None) -> list[dict[str, Any]]:
    if not location_id:
        raise ApiError(422, ["locationId should not be empty"])
    users = core.store.all(USER_KIND)
    return [u for u in users if location_id in u.get("roles", {}).get("locationIds", [])]


# -- workflows ----------------------------------------------------------------------------
def workflows(location_id: str | None) -> list[dict[str, Any]]:
    """A few fixed demo workflows; ids are stable per location (uuid5)."""
    if not location_id:
        raise ApiError(422, ["locationId should not be empty"])
    out = []
    for n, (name, status, version) in enumerate(DEMO_WORKFLOWS):
        wid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-crm/{location_id}/workflow/{n}"))
        out.append(
            {
                "id": wid,
                "name": name,
                "status": status,
                "version": version,
                "createdAt": WORKFLOW_DATE,
                "updatedAt": WORKFLOW_DATE,
                "locationId": location_id,
            }
        )
    return out


# -- custom fields -------------------------------------------------------------------------
DEMO_CUSTOM_FIELDS = (
    ("Loyalty tier", "loyalty_tier", "SINGLE_OPTIONS"),
    ("Member since", "member_since", "DATE"),
    ("Preferred store", "preferred_store", "TEXT"),
)


def custom_fields(location_id: str) -> list[dict[str, Any]]:
    """The location's contact custom fields (fixed demo ones; ids stable per location)."""
    out = []
    for n, (name, key, data_type) in enumerate(DEMO_CUSTOM_FIELDS):
        fid = uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-crm/{location_id}/custom-field/{key}")
        out.append(
            {
                "id": fid.hex[:20],
                "name": name,
                "fieldKey": f"contact.{key}",
                "dataType": data_type,
                "position": n,
                "locationId": location_id,
                "model": "contact",
            }
        )
    return out


def enroll(core: Core, contact_id: str, workflow_id: str, body: Any) -> dict[str, Any]:
    check_body(body if body is not None else {}, None, {"eventStartTime": "str"})
    contact = contacts.get(core, contact_id)
    if workflow_id not in {w["id"] for w in workflows(contact["locationId"])}:
        raise not_found("Workflow")
    now = iso_from_ms(core.clock.now_ms())
    record = {
        "id": new_id(),
        "contactId": contact_id,
        "workflowId": workflow_id,
        "locationId": contact["locationId"],
        "eventStartTime": (body or {}).get("eventStartTime"),
        "dateAdded": now,
        "dateUpdated": now,
    }
    core.store.put("workflowEnrollment", drop_none(record), parent_id=contact_id)
    return {"succeded": True}


# -- courses ------------------------------------------------------------------------------
def import_courses(core: Core, body: Any) -> dict[str, Any]:
    """Accept and record a course import (the spec documents a 201 without a body)."""
    check_body(body, {"locationId": "str", "products": "list"}, {"userId": "str"})
    errors = []
    for i, product in enumerate(body["products"]):
        if not isinstance(product, dict) or not product.get("title"):
            errors.append(f"products.{i}.title should not be empty")
        elif not isinstance(product.get("categories"), list):
            errors.append(f"products.{i}.categories must be an array")
    if errors:
        raise ApiError(422, errors)
    now = iso_from_ms(core.clock.now_ms())
    record = {**body, "id": new_id(), "dateAdded": now, "dateUpdated": now}
    core.store.put("courseImport", record)
    return {"success": True, "id": record["id"]}
