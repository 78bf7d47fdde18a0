"""Planner statistics for tables a bulk load is filling: ANALYZE as they grow.

A table filled quickly (a location's first backfill: 100,000 contacts in a minute) is not
analysed by autovacuum in time, so PostgreSQL plans each page's look-ups (links by remote id,
taken e-mail keys, contacts by e-mail) as if the workspace held a handful of rows: it reads all
of the workspace's rows on every page instead of probing the unique indexes, a cost per page
that grows with the rows loaded (measured: ≈ 5 ms per look-up at 20,000 contacts, three per
page). PostgreSQL's own advice for bulk loads is to ANALYZE; doing it each time the load has
grown eightfold (1,000, 8,000, 64,000, … rows) costs a few tenths of a second per 100,000 rows.
A role that does not own the tables gets a warning and the plans autovacuum's statistics give.
"""

from collections.abc import Iterable

from django.db import connections, models

FIRST = 1_000
GROWTH = 8


def grew_past_a_step(before: int, after: int) -> bool:
    """Whether a load that had written `before` rows and now `after` passed 1,000 · 8ᵏ."""
    step = FIRST
    while step <= after:
        if before < step:
            return True
        step *= GROWTH
    return False


def analyze(tables: Iterable[type[models.Model]], *, using: str = "default") -> None:
    """ANALYZE the models' tables (PostgreSQL and SQLite both take the statement)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in dict.fromkeys(tables):
            cursor.execute(f"ANALYZE {quote(model._meta.db_table)}")
