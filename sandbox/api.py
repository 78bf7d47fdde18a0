"""CRM API routes: path templates from the official specs, mapped to thin handlers.

Handlers only translate HTTP <-> domain calls and wrap results in the spec's response keys
(``{"contact": ...}``, ``{"tasks": [...]}``...). Status codes follow the spec, including its
oddities (create appointment answers 200, delete event answers 201).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import appointments, businesses, contacts, directory, listings, queries, tasks_notes
from .core import Core
from .util import check_body


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: Any
    base_url: str


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


Handler = Callable[..., Response]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Register ``template`` (spec syntax, e.g. ``/contacts/{contactId}``) for ``method``."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.rstrip("/"))

    def register(func: Handler) -> Handler:
        ROUTES.append((method, re.compile(f"^{regex}$"), func))
        return func

    return register


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    """Find the handler; trailing slashes are optional (the spec writes ``/contacts/``)."""
    path = path.rstrip("/") or "/"
    for route_method, pattern, handler in ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return handler, match.groupdict()
    return None


def ok(body: Any, status: int = 200) -> Response:
    return Response(status, body)


# -- contacts (literal paths first so they win over {contactId}) ---------------------------
@route("POST", "/contacts/search")
def search_contacts(core: Core, req: Request) -> Response:
    return ok(queries.search_contacts(core, req.body))


@route("GET", "/contacts/search/duplicate")
def duplicate_contact(core: Core, req: Request) -> Response:
    return ok(queries.find_duplicate(core, req.query))


@route("POST", "/contacts/bulk/business")
def contacts_business(core: Core, req: Request) -> Response:
    return ok(businesses.set_business(core, req.body))


@route("GET", "/contacts/business/{businessId}")
def contacts_of_business(core: Core, req: Request, businessId: str) -> Response:
    return ok(businesses.list_by_business(core, businessId, req.query))


@route("POST", "/contacts/upsert")
def upsert_contact(core: Core, req: Request) -> Response:
    new, record = contacts.upsert(core, req.body)
    return ok({"new": new, "contact": contacts.serialize(record)})


@route("POST", "/contacts/")
def create_contact(core: Core, req: Request) -> Response:
    return ok({"contact": contacts.serialize(contacts.create(core, req.body))}, 201)


@route("GET", "/contacts/")
def list_contacts(core: Core, req: Request) -> Response:
    return ok(queries.list_contacts(core, req.query, req.base_url))


@route("GET", "/contacts/{contactId}")
def get_contact(core: Core, req: Request, contactId: str) -> Response:
    return ok({"contact": contacts.serialize(contacts.get(core, contactId))})


@route("PUT", "/contacts/{contactId}")
def update_contact(core: Core, req: Request, contactId: str) -> Response:
    record = contacts.update(core, contactId, req.body)
    return ok({"succeded": True, "contact": contacts.serialize(record)})


@route("DELETE", "/contacts/{contactId}")
def delete_contact(core: Core, req: Request, contactId: str) -> Response:
    contacts.delete(core, contactId)
    return ok({"succeded": True})


@route("POST", "/contacts/{contactId}/tags")
def add_tags(core: Core, req: Request, contactId: str) -> Response:
    body = check_body(req.body, {"tags": "list"})
    return ok({"tags": contacts.change_tags(core, contactId, body["tags"], add=True)}, 201)


@route("DELETE", "/contacts/{contactId}/tags")
def remove_tags(core: Core, req: Request, contactId: str) -> Response:
    body = check_body(req.body, {"tags": "list"})
    return ok({"tags": contacts.change_tags(core, contactId, body["tags"], add=False)})


# -- tasks ----------------------------------------------------------------------------------
@route("GET", "/contacts/{contactId}/tasks")
def list_tasks(core: Core, req: Request, contactId: str) -> Response:
    tasks = tasks_notes.list_tasks(core, contactId)
    return ok({"tasks": [tasks_notes.serialize(t) for t in tasks]})


@route("POST", "/contacts/{contactId}/tasks")
def create_task(core: Core, req: Request, contactId: str) -> Response:
    task = tasks_notes.create_task(core, contactId, req.body)
    return ok({"task": tasks_notes.serialize(task)}, 201)


@route("GET", "/contacts/{contactId}/tasks/{taskId}")
def get_task(core: Core, req: Request, contactId: str, taskId: str) -> Response:
    return ok({"task": tasks_notes.serialize(tasks_notes.get_task(core, contactId, taskId))})


@route("PUT", "/contacts/{contactId}/tasks/{taskId}")
def update_task(core: Core, req: Request, contactId: str, taskId: str) -> Response:
    task = tasks_notes.update_task(core, contactId, taskId, req.body)
    return ok({"task": tasks_notes.serialize(task)})


@route("PUT", "/contacts/{contactId}/tasks/{taskId}/completed")
def complete_task(core: Core, req: Request, contactId: str, taskId: str) -> Response:
    task = tasks_notes.complete_task(core, contactId, taskId, req.body)
    return ok({"task": tasks_notes.serialize(task)})


@route("DELETE", "/contacts/{contactId}/tasks/{taskId}")
def delete_task(core: Core, req: Request, contactId: str, taskId: str) -> Response:
    tasks_notes.delete_task(core, contactId, taskId)
    return ok({"succeded": True})


# -- notes ----------------------------------------------------------------------------------
@route("GET", "/contacts/{contactId}/notes")
def list_notes(core: Core, req: Request, contactId: str) -> Response:
    notes = tasks_notes.list_notes(core, contactId)
    return ok({"notes": [tasks_notes.serialize(n) for n in notes]})


@route("POST", "/contacts/{contactId}/notes")
def create_note(core: Core, req: Request, contactId: str) -> Response:
    note = tasks_notes.create_note(core, contactId, req.body)
    return ok({"note": tasks_notes.serialize(note)}, 201)


@route("GET", "/contacts/{contactId}/notes/{id}")
def get_note(core: Core, req: Request, contactId: str, id: str) -> Response:
    return ok({"note": tasks_notes.serialize(tasks_notes.get_note(core, contactId, id))})


@route("PUT", "/contacts/{contactId}/notes/{id}")
def update_note(core: Core, req: Request, contactId: str, id: str) -> Response:
    note = tasks_notes.update_note(core, contactId, id, req.body)
    return ok({"note": tasks_notes.serialize(note)})


@route("DELETE", "/contacts/{contactId}/notes/{id}")
def delete_note(core: Core, req: Request, contactId: str, id: str) -> Response:
    tasks_notes.delete_note(core, contactId, id)
    return ok({"succeded": True})


# -- appointments ---------------------------------------------------------------------------
@route("GET", "/contacts/{contactId}/appointments")
def contact_appointments(core: Core, req: Request, contactId: str) -> Response:
    events = appointments.for_contact(core, contactId)
    zone = core.cfg.timezone
    return ok({"events": [appointments.serialize_event(e, zone) for e in events]})


@route("GET", "/calendars/")
def list_calendars(core: Core, req: Request) -> Response:
    return ok({"calendars": listings.calendars(core, req.query.get("locationId"))})


@route("GET", "/calendars/events")
def list_events(core: Core, req: Request) -> Response:
    return ok({"events": listings.events(core, req.query)})


@route("POST", "/calendars/events/appointments")
def create_appointment(core: Core, req: Request) -> Response:
    return ok(appointments.serialize(appointments.create(core, req.body)))


@route("GET", "/calendars/events/appointments/{eventId}")
def get_appointment(core: Core, req: Request, eventId: str) -> Response:
    return ok({"event": appointments.serialize(appointments.get(core, eventId))})


@route("PUT", "/calendars/events/appointments/{eventId}")
def update_appointment(core: Core, req: Request, eventId: str) -> Response:
    return ok(appointments.serialize(appointments.update(core, eventId, req.body)))


@route("DELETE", "/calendars/events/{eventId}")
def delete_event(core: Core, req: Request, eventId: str) -> Response:
    appointments.delete(core, eventId)
    return ok({"succeeded": True}, 201)


# -- the location and its task search ------------------------------------------------------
@route("GET", "/locations/{locationId}")
def get_location(core: Core, req: Request, locationId: str) -> Response:
    return ok({"location": listings.location(core, locationId)})


@route("POST", "/locations/{locationId}/tasks/search")
def search_tasks(core: Core, req: Request, locationId: str) -> Response:
    return ok({"tasks": listings.search_tasks(core, locationId, req.body)})


# -- users, workflows, courses -------------------------------------------------------------
@route("POST", "/users/")
def create_user(core: Core, req: Request) -> Response:
    return ok(directory.serialize_user(directory.create_user(core, req.body)), 201)


@route("GET", "/users/")
def list_users(core: Core, req: Request) -> Response:
    users = directory.users_for_location(core, req.query.get("locationId"))
    return ok({"users": [directory.serialize_user(u) for u in users]})


@route("GET", "/users/{userId}")
def get_user(core: Core, req: Request, userId: str) -> Response:
    return ok(directory.serialize_user(directory.get_user(core, userId)))


@route("PUT", "/users/{userId}")
def update_user(core: Core, req: Request, userId: str) -> Response:
    return ok(directory.serialize_user(directory.update_user(core, userId, req.body)))


@route("DELETE", "/users/{userId}")
def delete_user(core: Core, req: Request, userId: str) -> Response:
    return ok(directory.delete_user(core, userId))


@route("GET", "/workflows/")
def list_workflows(core: Core, req: Request) -> Response:
    return ok({"workflows": directory.workflows(req.query.get("locationId"))})


@route("GET", "/locations/{locationId}/customFields")
def list_custom_fields(core: Core, req: Request, locationId: str) -> Response:
    return ok({"customFields": directory.custom_fields(locationId)})


@route("POST", "/contacts/{contactId}/workflow/{workflowId}")
def add_to_workflow(core: Core, req: Request, contactId: str, workflowId: str) -> Response:
    return ok(directory.enroll(core, contactId, workflowId, req.body))


@route("POST", "/courses/courses-exporter/public/import")
def import_courses(core: Core, req: Request) -> Response:
    return ok(directory.import_courses(core, req.body), 201)
