"""CRM actions (HighLevel API v2; every request validates against tests/specs/highlevel/).

Creates that the CRM cannot deduplicate (user, task, note, appointment) look first for what
an earlier attempt of the same step may have made, when that attempt's answer was never
recorded (its worker died during the call): exactly one effect per event x action.
"""

import secrets
from datetime import timedelta
from typing import Any

from sync.automations.actions.base import ActionError, StepCall, action
from sync.transport.http import RemoteError

CRM = "highlevel"
USER_FIELDS = ("firstName", "lastName", "email", "phone", "type", "role", "locationIds")
CONTACT_FIELDS = (
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "gender",
    "address1",
    "city",
    "state",
    "postalCode",
    "country",
    "website",
    "timezone",
    "companyName",
    "source",
    "tags",
)


def _pick(inputs: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: inputs[k] for k in names if inputs.get(k) not in (None, "")}


def _contact_id(inputs: dict[str, Any]) -> str:
    contact_id = inputs.get("contactId")
    if not contact_id:
        # Usually the contact's own push to the CRM has not finished yet.
        raise RemoteError("The contact is not in the CRM yet.", permanent=False, retry_after=30)
    return str(contact_id)


def _unknown_outcome(call: StepCall, method: str, path: str) -> bool:
    """An earlier attempt of this step may have sent this create without recording the answer
    (its worker died during the call): look before creating again."""
    return call.step.attempts > 1 and not call.dry_run and not call.answered(method, path)


# --- users -----------------------------------------------------------------------------------


def find_user(call: StepCall, email: str) -> dict[str, Any] | None:
    location = call.connection.location_id
    users = call.call("GET", "/users/", params={"locationId": location}).get("users") or []
    wanted = email.strip().lower()
    return next((u for u in users if str(u.get("email", "")).lower() == wanted), None)


@action(
    CRM,
    "user.create",
    "Create a CRM user",
    scope="users.write",
    outputs=("id",),
    inputs=USER_FIELDS,
    required=("email", "firstName", "lastName"),
)
def create_user(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    if _unknown_outcome(call, "POST", "/users/"):
        found = find_user(call, inputs["email"])
        if found:
            return {"id": found.get("id"), "found": True}
    body = {
        "type": "account",
        "role": "user",
        "locationIds": [call.connection.location_id],
        **_pick(inputs, USER_FIELDS),
        "companyId": call.connection.company_id,
        # The CRM requires a password; the user resets it. Never stored or shown.
        "password": secrets.token_urlsafe(24),
    }
    data = call.call("POST", "/users/", json=body)
    return {"id": data.get("id")}


def _user_id(call: StepCall, inputs: dict[str, Any]) -> str:
    if inputs.get("userId"):
        return str(inputs["userId"])
    found = find_user(call, inputs["email"]) if inputs.get("email") else None
    if not found and not call.dry_run:
        raise ActionError(f"No CRM user with the e-mail {inputs.get('email')!r}.")
    return str((found or {}).get("id") or "<user id>")


@action(
    CRM,
    "user.update",
    "Update a CRM user (by id or e-mail)",
    scope="users.write",
    inputs=("userId", *USER_FIELDS),
    outputs=("id",),
)
def update_user(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    user_id = _user_id(call, inputs)
    body = _pick(inputs, ("firstName", "lastName", "email", "phone"))
    call.call("PUT", f"/users/{user_id}", json=body)
    return {"id": user_id}


@action(
    CRM,
    "user.delete",
    "Delete a CRM user (by id or e-mail)",
    scope="users.write",
    inputs=("userId", "email"),
    outputs=("id",),
)
def delete_user(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    user_id = _user_id(call, inputs)
    call.call("DELETE", f"/users/{user_id}")
    return {"id": user_id}


# --- contacts --------------------------------------------------------------------------------


@action(
    CRM,
    "contact.upsert",
    "Create or update a CRM contact (by e-mail/phone)",
    inputs=CONTACT_FIELDS,
    outputs=("id", "new"),
)
def upsert_contact(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    if not (inputs.get("email") or inputs.get("phone")):
        raise ActionError("contact.upsert: an e-mail or a phone is needed.")
    body = {**_pick(inputs, CONTACT_FIELDS), "locationId": call.connection.location_id}
    data = call.call("POST", "/contacts/upsert", json=body)
    contact = data.get("contact") or {}
    return {"id": contact.get("id"), "new": data.get("new")}


@action(
    CRM,
    "contact.update",
    "Update a CRM contact",
    inputs=("contactId", *CONTACT_FIELDS),
    outputs=("id",),
)
def update_contact(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    contact_id = _contact_id(inputs)
    body = _pick(inputs, tuple(f for f in CONTACT_FIELDS if f != "name"))
    call.call("PUT", f"/contacts/{contact_id}", json=body)
    return {"id": contact_id}


@action(CRM, "contact.delete", "Delete a CRM contact", inputs=("contactId",), outputs=("id",))
def delete_contact(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    contact_id = _contact_id(inputs)
    call.call("DELETE", f"/contacts/{contact_id}")
    return {"id": contact_id}


# --- tasks and notes -------------------------------------------------------------------------


def _due_date(call: StepCall, inputs: dict[str, Any]) -> str:
    """The given dueDate, or the event's time plus `dueInDays` (stable across retries)."""
    if inputs.get("dueDate"):
        return str(inputs["dueDate"])
    try:
        days = float(inputs.get("dueInDays") or 1)
    except (TypeError, ValueError):
        raise ActionError(f"dueInDays must be a number, not {inputs['dueInDays']!r}.") from None
    due = call.step.run.created_at + timedelta(days=days)
    return due.replace(microsecond=0).isoformat().replace("+00:00", "Z")


@action(
    CRM,
    "task.create",
    "Create a CRM task for a contact",
    scope="tasks.write",
    inputs=("contactId", "title", "body", "dueDate", "dueInDays", "assignedTo"),
    required=("title",),
    outputs=("id", "contactId"),
)
def create_task(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    contact_id = _contact_id(inputs)
    body = {
        "title": inputs["title"],
        "dueDate": _due_date(call, inputs),
        "completed": False,
        **_pick(inputs, ("body", "assignedTo")),
    }
    path = f"/contacts/{contact_id}/tasks"
    if _unknown_outcome(call, "POST", path):
        existing = call.call("GET", path).get("tasks") or []
        same = [t for t in existing if t.get("title") == body["title"]]
        if same:
            return {"id": same[0].get("id"), "contactId": contact_id, "found": True}
    task = call.call("POST", path, json=body).get("task") or {}
    return {"id": task.get("id"), "contactId": contact_id}


@action(
    CRM,
    "note.create",
    "Create a CRM note on a contact",
    scope="notes.write",
    inputs=("contactId", "body", "userId"),
    required=("body",),
    outputs=("id",),
)
def create_note(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    contact_id = _contact_id(inputs)
    path = f"/contacts/{contact_id}/notes"
    body = {"body": str(inputs["body"]), **_pick(inputs, ("userId",))}
    if _unknown_outcome(call, "POST", path):
        existing = call.call("GET", path).get("notes") or []
        same = [n for n in existing if n.get("body") == body["body"]]
        if same:
            return {"id": same[0].get("id"), "found": True}
    note = call.call("POST", path, json=body).get("note") or {}
    return {"id": note.get("id")}


# --- tags and workflows ----------------------------------------------------------------------


def _tags(inputs: dict[str, Any]) -> list[str]:
    tags = inputs.get("tags")
    tags = [t.strip() for t in tags.split(",")] if isinstance(tags, str) else tags
    if not tags or not isinstance(tags, list):
        raise ActionError("tags: give a list (or a comma-separated text) of tags.")
    return [str(t) for t in tags if str(t).strip()]


@action(
    CRM,
    "tag.add",
    "Add tags to a CRM contact",
    inputs=("contactId", "tags"),
    required=("tags",),
    outputs=("tags",),
)
def add_tags(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    tags = _tags(inputs)
    call.call("POST", f"/contacts/{_contact_id(inputs)}/tags", json={"tags": tags})
    return {"tags": tags}


@action(
    CRM,
    "tag.remove",
    "Remove tags from a CRM contact",
    inputs=("contactId", "tags"),
    required=("tags",),
    outputs=("tags",),
)
def remove_tags(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    tags = _tags(inputs)
    call.call("DELETE", f"/contacts/{_contact_id(inputs)}/tags", json={"tags": tags})
    return {"tags": tags}


@action(
    CRM,
    "workflow.add",
    "Add a CRM contact to a workflow",
    inputs=("contactId", "workflowId"),
    required=("workflowId",),
)
def add_to_workflow(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    path = f"/contacts/{_contact_id(inputs)}/workflow/{inputs['workflowId']}"
    call.call("POST", path, json={})
    return {"workflowId": inputs["workflowId"]}


@action(
    CRM,
    "workflow.remove",
    "Remove a CRM contact from a workflow",
    inputs=("contactId", "workflowId"),
    required=("workflowId",),
)
def remove_from_workflow(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    path = f"/contacts/{_contact_id(inputs)}/workflow/{inputs['workflowId']}"
    call.call("DELETE", path, json={})
    return {"workflowId": inputs["workflowId"]}


# --- appointments ----------------------------------------------------------------------------


@action(
    CRM,
    "appointment.book",
    "Book a CRM appointment for a contact",
    scope="appointments.write",
    outputs=("id",),
    inputs=("contactId", "calendarId", "startTime", "endTime", "title", "assignedUserId"),
    required=("calendarId", "startTime"),
)
def book_appointment(call: StepCall, inputs: dict[str, Any]) -> dict[str, Any]:
    contact_id = _contact_id(inputs)
    if _unknown_outcome(call, "POST", "/calendars/events/appointments"):
        events = call.call("GET", f"/contacts/{contact_id}/appointments").get("events") or []
        same = [
            e
            for e in events
            if e.get("calendarId") == inputs["calendarId"]
            and str(e.get("startTime", ""))[:16] == str(inputs["startTime"])[:16]
        ]
        if same:
            return {"id": same[0].get("id"), "found": True}
    body = {
        "calendarId": inputs["calendarId"],
        "locationId": call.connection.location_id,
        "contactId": contact_id,
        "startTime": inputs["startTime"],
        **_pick(inputs, ("endTime", "title", "assignedUserId")),
    }
    data = call.call("POST", "/calendars/events/appointments", json=body)
    return {"id": data.get("id")}
