"""What each of the inbound events' indexes is for, and that the queries of the one dropped
(sync migration 0016: `inbound_type`, one index fewer per stored delivery) still read an index.

The plans are those of the queries the code runs (captured), explained with sequential scans off
on PostgreSQL after ANALYZE, so they do not depend on a small table's statistics.
"""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sync.inbound.processing import claim_batch
from sync.models import InboundEvent, InboundStatus

pytestmark = pytest.mark.django_db
TABLE = InboundEvent._meta.db_table
TYPES = ["ContactCreate", "ContactUpdate", "ContactDelete", "NoteCreate"]


@pytest.fixture
def events(crm_connection):
    now = timezone.now()
    InboundEvent.objects.bulk_create(
        InboundEvent(
            source="highlevel", source_key="highlevel", routing_key="loc", webhook_id=f"w{n}",
            event_type=TYPES[n % len(TYPES)], body="{}", connection=crm_connection,
            workspace_id=crm_connection.workspace_id, received_at=now,
            status=InboundStatus.RECEIVED if n % 50 == 0 else InboundStatus.PROCESSED,
        )
        for n in range(2000)
    )  # fmt: skip
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TABLE}")


def plan(sql: str, params=()) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(row[-1] for row in cursor.fetchall())


def test_the_intake_table_has_no_event_type_index_any_more():
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, TABLE)
    assert "inbound_type" not in indexes
    # What stays: the dedupe constraint, the claim's, the console's, the record's.
    for name in ("inbound_unique_webhook_per_route", "inbound_status_received",
                 "inbound_received", "inbound_conn_received", "inbound_object"):  # fmt: skip
        assert name in indexes, name


def test_the_admins_event_type_filter_reads_the_newest_first_through_an_index(admin_client, events):
    url = reverse("admin:sync_inboundevent_changelist") + "?event_type=NoteCreate"
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count("NoteCreate") >= 100  # a full page of them
    [sql] = [q["sql"] for q in queries if f'FROM "{TABLE}"' in q["sql"] and "ORDER BY" in q["sql"]]
    explained = plan(sql)
    assert "inbound_received" in explained, explained
    if connection.vendor == "postgresql":
        assert "Sort" not in explained, explained  # read in order: stops after a page
    else:
        assert "TEMP B-TREE" not in explained, explained


def test_the_claim_still_finds_the_waiting_events_through_their_index(events):
    with CaptureQueriesContext(connection) as queries:
        claimed = claim_batch(limit=10)
    assert len(claimed) == 10
    sql = next(q["sql"] for q in queries if "ROW_NUMBER" in q["sql"].upper())  # the fair pick
    explained = plan(sql)
    assert "inbound_status_received" in explained, explained
