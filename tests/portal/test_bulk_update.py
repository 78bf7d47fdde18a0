"""update_rows: many rows, each to its own values, in one statement (SQLite and PostgreSQL)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.bulk_update import update_rows
from sync.models import InboundEvent, InboundStatus

pytestmark = pytest.mark.django_db
WHEN = timezone.now().replace(microsecond=0) - datetime.timedelta(days=2)


def event(n: int, lease: str = "lease") -> InboundEvent:
    return InboundEvent.objects.create(
        source="highlevel", source_key="highlevel", event_type="ContactCreate",
        webhook_id=f"w{n}", body="{}", lease_token=lease, lease_until=WHEN,
    )  # fmt: skip


def test_each_row_takes_its_own_values_and_the_common_ones_in_one_statement():
    events = [event(n) for n in range(3)]
    rows = [
        {
            "id": e.pk,
            "status": InboundStatus.PROCESSED if n else InboundStatus.FAILED,
            "result": f"created ct_{n} — ünïcode 'quoted'",
            "headers": {"n": n, "nested": [None, "x"]},
            "source_timestamp": None if n == 1 else WHEN + datetime.timedelta(hours=n),
        }
        for n, e in enumerate(events)
    ]
    with CaptureQueriesContext(connection) as queries:
        updated = update_rows(
            InboundEvent, rows, same={"lease_token": "", "lease_until": None, "processed_at": WHEN}
        )
    assert updated == 3
    assert len(queries) == 1
    for n, e in enumerate(events):
        e.refresh_from_db()
        assert e.status == (InboundStatus.PROCESSED if n else InboundStatus.FAILED)
        assert e.result == f"created ct_{n} — ünïcode 'quoted'"
        assert e.headers == {"n": n, "nested": [None, "x"]}
        assert e.source_timestamp == (None if n == 1 else WHEN + datetime.timedelta(hours=n))
        assert (e.lease_token, e.lease_until, e.processed_at) == ("", None, WHEN)


def test_a_column_of_nulls_in_the_first_row_is_typed():
    """PostgreSQL types a VALUES column by its first row: NULLs there are cast to the column."""
    first, second = event(1), event(2)
    rows = [
        {"id": first.pk, "source_timestamp": None},
        {"id": second.pk, "source_timestamp": WHEN},
    ]
    assert update_rows(InboundEvent, rows) == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.source_timestamp, second.source_timestamp) == (None, WHEN)


def test_rows_that_do_not_meet_the_conditions_are_left_alone():
    mine, theirs = event(1, lease="mine"), event(2, lease="theirs")
    rows = [{"id": e.pk, "result": "done"} for e in (mine, theirs)]
    assert update_rows(InboundEvent, rows, where={"lease_token": "mine"}) == 1
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.result, theirs.result) == ("done", "")


def test_rows_must_give_the_same_fields():
    first, second = event(1), event(2)
    rows = [{"id": first.pk, "result": "a"}, {"id": second.pk, "error": "b"}]
    with pytest.raises(TypeError, match="same fields"):
        update_rows(InboundEvent, rows)


def test_an_unknown_field_is_refused_and_no_rows_is_no_statement():
    with pytest.raises(TypeError, match="no field"):
        update_rows(InboundEvent, [{"id": event(1).pk, "colour": "red"}])
    with CaptureQueriesContext(connection) as queries:
        assert update_rows(InboundEvent, []) == 0
    assert len(queries) == 0
