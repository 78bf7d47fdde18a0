"""What the database does for a partner list page (issue 19, the list at 100,000 contacts): the
contacts are read through an index, a page and a cursor page in id order without sorting, and
the tag filter through the GIN index on PostgreSQL (contacts migration 0004), not by reading
every contact of the workspace. The plans are those of the queries the view runs (captured),
explained with sequential scans off on PostgreSQL and its statistics taken, so the assertions
do not depend on a small table's statistics."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact

pytestmark = pytest.mark.django_db
TABLE = Contact._meta.db_table
ROWS = 2000


@pytest.fixture
def contacts(workspace):
    rows = [
        Contact(workspace=workspace, email=f"c{n}@example.com", email_key=f"c{n}@example.com",
                tags=["vip", "lead"] if n % 1000 == 7 else ["seed"])
        for n in range(ROWS)
    ]  # fmt: skip
    for row in rows:
        row.ensure_public_id()
    Contact.objects.bulk_create(rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TABLE}")


def plan_of_page(api, url: str) -> str:
    """The plan of the contacts SELECT that `url` runs."""
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url)
    assert response.status_code == 200, response.content
    [sql] = [q["sql"] for q in queries if f'FROM "{TABLE}"' in q["sql"]]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(row[-1] for row in cursor.fetchall())


def reads_by_index_without_sorting(plan: str) -> bool:
    if connection.vendor == "postgresql":
        by_index = f"Index Scan using contacts_contact_pkey on {TABLE}" in plan
        by_index |= f"Index Scan using ct_ws_id on {TABLE}" in plan
        return by_index and "Sort" not in plan
    return f"SEARCH {TABLE} USING INDEX ct_ws_id" in plan and "TEMP B-TREE" not in plan


def test_a_page_and_a_cursor_page_read_the_contacts_in_id_order_through_an_index(api, contacts):
    first = plan_of_page(api, "/api/v1/contacts/?limit=100")
    assert reads_by_index_without_sorting(first), first
    cursor = api.get("/api/v1/contacts/?limit=100").json()["next_cursor"]
    following = plan_of_page(api, f"/api/v1/contacts/?limit=100&cursor={cursor}")
    assert reads_by_index_without_sorting(following), following


def test_the_tag_filter_reads_the_tags_index_on_postgresql(api, contacts):
    plan = plan_of_page(api, "/api/v1/contacts/?tag=vip")
    if connection.vendor == "postgresql":
        assert "Bitmap Index Scan on ct_tags" in plan, plan
    else:  # SQLite has no index on a JSON list's members: the workspace's rows in id order
        assert reads_by_index_without_sorting(plan), plan
    assert len(api.get("/api/v1/contacts/?tag=vip").json()["results"]) == 2


def test_the_email_filter_reads_its_index(api, contacts):
    plan = plan_of_page(api, "/api/v1/contacts/?email=C7@example.com")
    assert "ct_ws_email" in plan, plan
