"""A backfill page of new contacts is written with a fixed, small set of statements: one
transaction (no savepoint inside it), its three look-ups (Links, unlinked contacts by e-mail,
e-mails taken), the contacts' ids, the rows, audit entries, Links and calls' log, and the
checkpoint. The calls' log draws no ids (portal.bulk_insert's `numbered=False`)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from ops.backfill import Backfill
from ops.backfill_runs import start_run
from portal import bulk_insert as bulk_insert_module
from portal.models import AuditEntry
from sync.models import DeliveryAttempt, Link

pytestmark = pytest.mark.django_db


def kind(sql: str) -> str:
    """A statement named by what it does (its table, or its verb)."""
    if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
        return sql.split(' "')[0]
    if "nextval" in sql:
        return "nextval " + re.search(r"public\.(\w+)_id_seq", sql).group(1)
    verb = sql.split()[0]
    table = re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', sql)
    return f"{verb} {table.group(1) if table else '?'}"


def pages_of_statements(captured: list[str]) -> list[list[str]]:
    """Each page's statements: from the start of its transaction (a savepoint here, as the test
    runs inside a transaction) to its checkpoint; the limiter's, between pages, are left out.
    An INSERT repeated in a row is one step (SQLite's come in batches)."""
    pages, page = [], []
    for sql in captured:
        step = kind(sql)
        if step == "SAVEPOINT":
            page = []
        if not (page and page[-1] == step and step.startswith("INSERT")):
            page.append(step)
        if sql.startswith('UPDATE "ops_backfillrun" SET "phase"'):
            pages.append(page)
            page = []
    return pages


def test_a_page_of_new_contacts_is_written_with_one_statement_per_step(crm, conn, monkeypatch):
    crm.seed_contacts(300)
    copied: list[str] = []
    copy = bulk_insert_module._copy

    def counted_copy(cursor, db, model, fields, rows):
        copied.append(model._meta.db_table)
        return copy(cursor, db, model, fields, rows)

    monkeypatch.setattr(bulk_insert_module, "_copy", counted_copy)
    run, _ = start_run(conn, ["contact"])
    backfill = Backfill(run)
    with CaptureQueriesContext(connection) as captured:
        tally = backfill.execute()
    assert tally.created == 300
    second_page = pages_of_statements([q["sql"] for q in captured.captured_queries])[1]
    lookups_and_checkpoint = [
        "SELECT sync_link",  # which of the page's records the portal has
        "SELECT contacts_contact",  # unlinked contacts with their e-mails
        "SELECT contacts_contact",  # e-mails already taken in the workspace
    ]
    if connection.vendor == "postgresql":
        assert second_page == [
            "SAVEPOINT",
            *lookups_and_checkpoint,
            "nextval contacts_contact",  # the new contacts' ids, for their audit and Links
            "UPDATE ops_backfillrun",
        ]
        # COPY: per page the calls' log, the contacts, their audit entries and their Links
        assert copied[4:8] == ["sync_deliveryattempt", "contacts_contact", "portal_auditentry",
                               "sync_link"]  # fmt: skip
    else:
        assert second_page == [
            "SAVEPOINT",
            "INSERT sync_deliveryattempt",
            *lookups_and_checkpoint,
            "INSERT contacts_contact",
            "INSERT portal_auditentry",
            "INSERT sync_link",
            "UPDATE ops_backfillrun",
        ]
    assert DeliveryAttempt.objects.filter(connection=conn).count() == 4  # 3 pages and the end
    assert Link.objects.filter(connection=conn, object_type="contact").count() == 300
    assert AuditEntry.objects.count() >= 300
    assert Contact.objects.count() == 300
