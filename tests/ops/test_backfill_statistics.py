"""A backfill keeps the planner's statistics of the tables it fills up to date as they grow
(portal/planner_statistics.py): without them PostgreSQL read every row of the workspace for each
page's look-ups (links by remote id, taken e-mail keys), a cost that grew with every page."""

import pytest
from django.db import connection

from ops.backfill import Backfill
from ops.backfill_runs import start_run
from portal import planner_statistics
from portal.planner_statistics import grew_past_a_step

pytestmark = pytest.mark.django_db


def rows_the_planner_knows(table: str) -> set[int]:
    """The row count in the database's planner statistics for `table` (one per index on
    SQLite; empty if the table was never analysed)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
            return {count for (count,) in cursor.fetchall() if count >= 0}
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if not cursor.fetchall():
            return set()
        cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s", [table])
        return {int(stat.split()[0]) for (stat,) in cursor.fetchall()}


def test_a_step_is_passed_at_1000_rows_and_at_each_eightfold_growth():
    assert not grew_past_a_step(0, 999)
    assert grew_past_a_step(999, 1_000) and grew_past_a_step(0, 100_000)
    assert not grew_past_a_step(1_000, 7_999)
    assert grew_past_a_step(7_999, 8_000) and grew_past_a_step(60_000, 64_000)
    assert not grew_past_a_step(64_000, 511_999)


def test_the_tables_a_backfill_fills_are_analysed_as_they_grow(crm, conn, monkeypatch):
    monkeypatch.setattr(planner_statistics, "FIRST", 10)
    monkeypatch.setattr(planner_statistics, "GROWTH", 2)  # steps 10, 20, 40, 80, 160, 320
    crm.seed_contacts(250)  # pages of 100, 100 and 50: steps passed by the first two only
    run, _ = start_run(conn, ["contact"])
    tally = Backfill(run).execute()
    assert tally.created == 250
    assert rows_the_planner_knows("contacts_contact") == {200}  # as of the second page
    assert rows_the_planner_knows("sync_link") == {200}


def test_a_dry_run_analyses_nothing(crm, conn, monkeypatch):
    monkeypatch.setattr(planner_statistics, "FIRST", 10)
    crm.seed_contacts(120)
    before = rows_the_planner_knows("contacts_contact")
    run, _ = start_run(conn, ["contact"])
    Backfill(run, dry_run=True).execute()
    assert rows_the_planner_knows("contacts_contact") == before
