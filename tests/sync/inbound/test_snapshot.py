"""A Link's snapshot of what the remote holds, in its stored form (sync/inbound/snapshot.py).

A new link's fields share one time, written once; fields learnt later keep their own time; a
snapshot stored in the older form (every field as [value, time]) is read as before. Each test
stores the snapshot and reads it back from the database.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from ops.ingest import Ingestor
from portal.actors import Actor
from sync.inbound.snapshot import known_fields, known_values, new_link, with_fields
from sync.models import Link
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
# What a backfilled contact's link knows: the sandbox CRM's seeded contact, mapped.
SEEN = {"email": "seed1@example.com", "phone": "+15550000001", "first_name": "Seed1"} | {
    name: "" for name in ("city", "state", "country", "website", "address1", "postal_code")
}


def stored(conn, contact, snapshot: dict) -> Link:
    Link.objects.create(
        connection=conn, object_type="contact", object_id=contact.pk, remote_snapshot=snapshot
    )
    return Link.objects.get(connection=conn, object_id=contact.pk)


def older_form(fields: dict, at: datetime) -> dict:
    return {name: [value, at.isoformat()] for name, value in fields.items()}


def test_a_new_link_writes_its_one_time_once(conn, workspace):
    values = new_link(conn, "contact", 1, "R1", SEEN | {"tags": ["vip"]}, T0)
    snapshot = values["remote_snapshot"]
    assert snapshot["@at"] == T0.isoformat()
    assert snapshot["@fields"] == SEEN | {"tags": ["vip"]}
    assert json.dumps(snapshot).count(T0.isoformat()) == 1
    link = stored(conn, ContactFactory(workspace=workspace), snapshot)
    known = known_fields(link)
    assert {name: k.value for name, k in known.items()} == SEEN | {"tags": ["vip"]}
    assert {k.at for k in known.values()} == {T0}
    assert known_values(link) == SEEN | {"tags": ["vip"]}


def test_a_new_links_snapshot_is_less_than_half_the_older_form():
    compact = with_fields(None, SEEN, T0)
    assert len(json.dumps(compact)) * 2 < len(json.dumps(older_form(SEEN, T0)))


def test_fields_learnt_later_keep_their_own_time_and_the_others_theirs(conn, workspace):
    link = stored(conn, ContactFactory(workspace=workspace), with_fields(None, SEEN, T0))
    link = stored(
        conn, ContactFactory(workspace=workspace), with_fields(link, {"city": "Porto"}, T1)
    )
    known = known_fields(link)
    assert (known["city"].value, known["city"].at) == ("Porto", T1)
    assert (known["email"].value, known["email"].at) == ("seed1@example.com", T0)
    assert set(known) == set(SEEN)
    assert link.remote_snapshot["@at"] == T0.isoformat()  # most fields' time, written once
    assert link.remote_snapshot["city"] == ["Porto", T1.isoformat()]


def test_a_snapshot_in_the_older_form_is_read_and_rewritten_in_the_stored_form(conn, workspace):
    old = older_form({"email": "a@example.com"}, T0) | older_form({"city": "Oldtown"}, T1)
    link = stored(conn, ContactFactory(workspace=workspace), old)
    assert known_fields(link)["email"].at == T0 and known_fields(link)["city"].at == T1
    assert known_values(link) == {"email": "a@example.com", "city": "Oldtown"}
    updated = with_fields(link, {"email": "b@example.com"}, T1)
    assert updated == {
        "@at": T1.isoformat(),
        "@fields": {"email": "b@example.com", "city": "Oldtown"},
    }


def test_no_fields_make_no_snapshot(conn):
    assert with_fields(None, {}, T0) == {}
    assert known_fields(None) == {} and known_values(Link(remote_snapshot={})) == {}


def test_an_unchanged_backfilled_record_leaves_its_stored_snapshot_alone(conn, workspace):
    """Ingestor's unchanged path compares values through known_values: an equal record writes
    nothing (a stored-form snapshot read as [value, time] pairs would differ on every field)."""
    contact = ContactFactory(workspace=workspace, email="same@example.com", city="Porto")
    snapshot = with_fields(None, {"email": "same@example.com", "city": "Porto"}, T0)
    link = stored(conn, contact, snapshot)
    ingestor = Ingestor(conn, Actor.connection(conn, source="backfill"))
    seen = {"email": "same@example.com", "city": "Porto"}
    ingestor._keep_snapshot("contact", contact, link, seen, {"dateUpdated": T1.isoformat()})
    link.refresh_from_db()
    assert link.remote_snapshot == snapshot
    ingestor._keep_snapshot("contact", contact, link, seen | {"city": "Faro"}, {})
    link.refresh_from_db()
    assert known_values(link) == {"email": "same@example.com", "city": "Faro"}
