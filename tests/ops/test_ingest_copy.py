"""A page written by COPY (PostgreSQL) lands exactly as the bulk_create path writes it: the same
rows, audit entries, links and outbox rows; refused records are reported, the rest written."""

import datetime

import pytest
from django.utils import timezone

from contacts.models import Contact, Task
from ops.ingest import Ingestor
from portal import bulk_insert
from portal.actors import Actor
from portal.models import AuditEntry
from sync.engine.outbox import outbound_suppressed
from sync.models import Link, OutboundChange
from tests.factories import WorkspaceFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
T0 = timezone.now().replace(microsecond=0) - datetime.timedelta(days=1)
SYSTEM = {"id", "workspace_id", "public_id", "created_at", "updated_at"}


def page() -> list[dict]:
    contacts = [
        {
            "id": f"R{i}",
            "firstName": f"Zoë{i}",
            "lastName": "O'Brien",
            "email": f" R{i}@Example.COM",
            "phone": f"(555) 010-{i:04d}",
            "tags": ["vip", "  spaced  ", "vip"],
            "customFields": [{"id": "score", "value": i}],
            "dateAdded": T0.isoformat(),
            "dateUpdated": T0.isoformat(),
        }
        for i in range(4)
    ]
    contacts[2]["email"] = "not-an-email"
    contacts.append(dict(contacts[0], id="R9"))  # the same e-mail again: a duplicate
    return contacts


def tasks() -> list[dict]:
    return [
        {"id": f"T{i}", "contactId": f"R{i}", "title": f"Call {i}", "completed": i % 2 == 0,
         "dueDate": T0.isoformat(), "dateAdded": T0.isoformat(), "dateUpdated": T0.isoformat()}
        for i in (0, 1)
    ]  # fmt: skip


def ingest(copy: bool, monkeypatch) -> tuple:
    """The page written into a fresh workspace, by COPY or (copy=False) by bulk_create."""
    if not copy:
        monkeypatch.setattr(bulk_insert, "uses_copy", lambda model, using="default": False)
    workspace = WorkspaceFactory()
    conn = ConnectionFactory(workspace=workspace, slug=f"crm-{copy}")
    other = ConnectionFactory(workspace=workspace, slug=f"other-{copy}")
    ingestor = Ingestor(conn, Actor.connection(conn, source="backfill"))
    tally = ingestor.apply("contact", page())
    parents = {f"T{i}": Contact.objects.get(workspace=workspace, first_name=f"Zoë{i}")
               for i in (0, 1)}  # fmt: skip
    with outbound_suppressed():
        task_tally = ingestor.apply("task", tasks(), parents=parents)
    monkeypatch.undo()
    return workspace, conn, other, tally, task_tally


def state(workspace, conn, other) -> dict:
    """What the page left, with the ids that differ between two runs replaced by names."""
    contacts = Contact.objects.filter(workspace=workspace).order_by("first_name")
    task_rows = Task.objects.filter(workspace=workspace).order_by("title")
    names = {("contact", c.pk): c.first_name for c in contacts}
    names |= {("task", t.pk): t.title for t in task_rows}
    public = {c.public_id: c.first_name for c in contacts}
    entries = AuditEntry.objects.filter(workspace=workspace, actor_id=str(conn.pk))
    links = Link.objects.filter(connection=conn).order_by("remote_id")
    outbox = OutboundChange.objects.filter(connection=other)
    return {
        "contacts": [{k: v for k, v in row.items() if k not in SYSTEM} for row in
                     contacts.values()],
        "tasks": [{k: v for k, v in row.items() if k not in SYSTEM | {"contact_id"}}
                  | {"contact": names[("contact", row["contact_id"])]}
                  for row in task_rows.values()],
        "audit": sorted((e.action, e.object_type, e.object_repr, str(_named(e.changes, public)))
                        for e in entries),
        "links": [(lk.remote_id, names[(lk.object_type, lk.object_id)], lk.remote_updated_at,
                   lk.remote_snapshot) for lk in links],
        "outbox": sorted((names[(o.object_type, o.object_id)], o.object_type, o.audit_action)
                         for o in outbox),
        "to_origin": OutboundChange.objects.filter(connection=conn).count(),
    }  # fmt: skip


def _named(changes: dict, public: dict) -> dict:
    return {k: [public.get(v, v) if isinstance(v, str) else v for v in pair]
            for k, pair in changes.items()}  # fmt: skip


def test_copy_writes_what_bulk_create_writes(monkeypatch):
    copied = ingest(True, monkeypatch)
    reference = ingest(False, monkeypatch)
    assert [t.as_dict() for t in copied[3:]] == [t.as_dict() for t in reference[3:]]
    assert copied[3].errors == reference[3].errors
    copied_state, reference_state = state(*copied[:3]), state(*reference[:3])
    assert copied_state == reference_state
    # and that state is the write path's: normalised, audited, linked, queued, suppressed
    assert [c["email"] for c in copied_state["contacts"]] == [
        "R0@example.com",
        "R1@example.com",
        "R3@example.com",
    ]
    assert copied_state["contacts"][0]["phone"] == "+15550100000"
    assert copied_state["contacts"][0]["tags"] == ["vip", "spaced"]
    assert copied_state["contacts"][0]["custom_fields"] == {"score": 0}
    assert len(copied_state["audit"]) == 5  # 3 contacts + 2 tasks
    assert [link[0] for link in copied_state["links"]] == ["R0", "R1", "R3", "T0", "T1"]
    assert copied_state["outbox"] == [
        ("Zoë0", "contact", "create"),
        ("Zoë1", "contact", "create"),
        ("Zoë3", "contact", "create"),
    ]  # the tasks were written with the outbox suppressed; nothing goes back to the origin
    assert copied_state["to_origin"] == 0
    assert [(t["contact"], t["completed"]) for t in copied_state["tasks"]] == [
        ("Zoë0", True),
        ("Zoë1", False),
    ]


def test_refused_records_of_a_copy_page_are_reported_and_the_rest_written(monkeypatch):
    workspace, conn, _other, tally, _tasks = ingest(True, monkeypatch)
    assert tally.as_dict() == {"created": 3, "updated": 0, "unchanged": 0, "failed": 2}
    assert tally.errors == [
        "contact R2: email: Enter a valid e-mail address.",
        "contact R9: email: Another contact of this workspace has this e-mail "
        "(duplicates are not allowed).",
    ]
    created = Contact.objects.filter(workspace=workspace)
    assert created.count() == 3
    entries = AuditEntry.objects.filter(workspace=workspace, object_type="contacts.contact")
    assert sorted(entries.values_list("object_id", flat=True)) == sorted(
        created.values_list("public_id", flat=True)
    )
    assert Link.objects.filter(connection=conn, object_type="contact").count() == 3
