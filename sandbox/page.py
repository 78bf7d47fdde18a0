"""A tiny HTML page so a newcomer can make a change "in the CRM" and watch it sync.

Plain HTML forms, no JavaScript. Edits go through the same domain code as the API, so
they fire the same webhooks (ContactCreate / ContactUpdate / ContactTagUpdate).
"""

from __future__ import annotations

from html import escape
from typing import Any

from . import contacts
from .api import Response
from .core import Core
from .store import PageQuery
from .util import ApiError

MAX_ROWS = 200
FORM_FIELDS = (("firstName", "First name"), ("lastName", "Last name"))
FORM_FIELDS += (("email", "Email"), ("phone", "Phone"), ("tags", "Tags (comma-separated)"))

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }
form.card { border: 1px solid #ccc; padding: 1rem; max-width: 28rem; margin: 1rem 0; }
label { display: block; margin: .4rem 0; } input { width: 100%; }
.error { color: #a00; } .muted { color: #777; }
"""


def _form(title: str, action: str, values: dict[str, Any], button: str) -> str:
    inputs = []
    for name, label in FORM_FIELDS:
        value = values.get(name)
        if name == "tags":
            value = ", ".join(value or [])
        inputs.append(
            f'<label>{escape(label)} <input name="{name}" value="{escape(str(value or ""))}">'
            "</label>"
        )
    return (
        f'<form class="card" method="post" action="{escape(action)}">'
        f'<h2>{escape(title)}</h2>{"".join(inputs)}<button type="submit">{button}</button>'
        "</form>"
    )


def _rows(core: Core) -> str:
    q = PageQuery(contacts.KIND, core.cfg.location_id, MAX_ROWS, sort="dateUpdated", desc=True)
    records, total, _ = core.store.page(q)
    cells = []
    for r in records:
        values = [r.get("firstName"), r.get("lastName"), r.get("email"), r.get("phone")]
        values += [", ".join(r.get("tags") or []), r.get("dateUpdated")]
        tds = "".join(f"<td>{escape(str(v or ''))}</td>" for v in values)
        link = f'<a href="/?edit={escape(r["id"])}">edit</a>'
        cells.append(f"<tr><td><code>{escape(r['id'])}</code></td>{tds}<td>{link}</td></tr>")
    head = "".join(
        f"<th>{h}</th>" for h in ("id", "First", "Last", "Email", "Phone", "Tags", "Updated", "")
    )
    shown = f"{len(records)} of {total}" if total > len(records) else str(total)
    return f"<p class=muted>{shown} contacts</p><table><tr>{head}</tr>{''.join(cells)}</table>"


def render(core: Core, edit_id: str | None = None, error: str = "", status: int = 200) -> Response:
    """The page: edit form (when ``?edit=<id>``), create form and the contact list."""
    parts = [f"<h1>Sandbox CRM</h1><p class=muted>Location <code>{escape(core.cfg.location_id)}"]
    parts.append("</code>. Changes here fire webhooks to the portal.</p>")
    if error:
        parts.append(f'<p class="error">{escape(error)}</p>')
    record = core.store.get(contacts.KIND, edit_id) if edit_id else None
    if record is not None:
        title = f"Edit {record.get('name') or record['id']}"
        parts.append(_form(title, f"/_sandbox/ui/contacts/{record['id']}", record, "Save"))
    parts.append(_form("New contact", "/_sandbox/ui/contacts", {}, "Create"))
    parts.append(_rows(core))
    html = (
        "<!doctype html><html><head><meta charset=utf-8><title>Sandbox CRM</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
    return Response(status, html, content_type="text/html; charset=utf-8")


def _changes(form: dict[str, str]) -> dict[str, Any]:
    """Form values -> API-style body; an emptied field clears the value."""
    body: dict[str, Any] = {}
    for name, _ in FORM_FIELDS:
        if name not in form:
            continue
        value = form[name].strip()
        if name == "tags":
            body["tags"] = [t.strip() for t in value.split(",") if t.strip()]
        else:
            body[name] = value or None
    return body


def submit(core: Core, contact_id: str | None, form: dict[str, str]) -> Response:
    """Create (no id) or update a contact, then redirect back to the list (303)."""
    body = _changes(form)
    try:
        with core.write_lock:
            if contact_id:
                contacts.update(core, contact_id, body)
            else:
                contacts.create(core, {**body, "locationId": core.cfg.location_id})
    except ApiError as exc:
        message = exc.message if isinstance(exc.message, str) else "; ".join(exc.message)
        return render(core, edit_id=contact_id, error=message, status=400)
    return Response(303, "", headers={"Location": "/"}, content_type="text/html; charset=utf-8")
