"""The periodic poll (issue 14, items 4-6): due connections claimed once, the CRM's contacts
searched by dateUpdated, every page through the one inbound path, the checkpoint committed with
its page. The CRM is `responses` validated against its OpenAPI files; the schedule is driven
with an injected clock."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.db import connection as db
from django.db import transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Contact
from ops import tasks
from ops.due import CLAIM_BATCH, POLL, claim_due, due_connections, due_query
from ops.models import PollCheckpoint
from ops.poll import Poller
from portal.models import AuditEntry
from sync.connectors.base import Connector, Page
from sync.engine import queue
from sync.models import Connection, Link, OutboundChange
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory, FieldMappingFactory
from tests.sync.highlevel_spec import assert_valid_crm_request

pytestmark = pytest.mark.django_db
SEARCH = CRM + "/contacts/search"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeCrm:
    """The CRM's contacts as `POST /contacts/search` returns them: filtered by the dateUpdated
    range, sorted by it, 100 a page with `searchAfter` (as the sandbox CRM does)."""

    def __init__(self, mock: responses.RequestsMock, location: str) -> None:
        self.location = location
        self.contacts: dict[str, dict] = {}
        self.bodies: list[dict] = []
        self.failing_locations: set[str] = set()  # their search answers 500
        mock.add_callback("POST", SEARCH, callback=self._search)

    def put(self, contact_id: str, changed_at: datetime, **fields) -> dict:
        """A change made at the CRM (which sends no webhook here: it was dropped)."""
        record = self.contacts.setdefault(
            contact_id,
            {"id": contact_id, "locationId": self.location, "dateAdded": iso(changed_at)},
        )
        record.update(fields, dateUpdated=iso(changed_at))
        return record

    def _search(self, request):
        body = json.loads(request.body)
        self.bodies.append(body)
        if body["locationId"] in self.failing_locations:
            return 500, {}, json.dumps({"message": "Internal error"})
        since = datetime.fromisoformat(body["filters"][0]["value"]["gte"])
        rows = sorted(
            (c for c in self.contacts.values()
             if datetime.fromisoformat(c["dateUpdated"]) >= since),
            key=lambda c: (c["dateUpdated"], c["id"]),
        )  # fmt: skip
        if body.get("searchAfter"):
            after = tuple(body["searchAfter"])
            rows = [c for c in rows if (_ms(c["dateUpdated"]), c["id"]) > after]
        page = [
            {**c, "searchAfter": [_ms(c["dateUpdated"]), c["id"]]}
            for c in rows[: body["pageLimit"]]
        ]
        return 200, {}, json.dumps({"contacts": page, "total": len(rows)})


def _ms(value: str) -> int:
    return int(datetime.fromisoformat(value).timestamp() * 1000)


@pytest.fixture
def crm_api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        for call in mock.calls:
            assert_valid_crm_request(call.request)


@pytest.fixture
def crm(crm_api, workspace):
    return FakeCrm(crm_api, workspace.location_id)


@pytest.fixture
def conn(workspace):
    return ConnectionFactory(workspace=workspace, name="CRM", slug="crm")


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(queue, "async_task", lambda *args, **kwargs: calls.append(args))
    return calls


@pytest.fixture
def run_queued(queued):
    """Run the poll tasks the scheduler queued, as a worker would."""

    def run() -> list[str]:
        results = []
        while queued:
            func, connection_id = queued.pop(0)
            assert func == tasks.POLL_TASK
            results.append(tasks.poll_connection(connection_id))
        return results

    return run


def at(minutes: float) -> datetime:
    return timezone.now() + timedelta(minutes=minutes)


# --- a dropped webhook, and a change that fires none ---------------------------------------


def test_a_contact_change_whose_webhook_was_dropped_is_in_the_mirror_after_the_next_poll(
    crm, conn, queued, run_queued
):
    crm.put("C1", timezone.now() - timedelta(hours=1), firstName="Ada", email="ada@x.com")
    assert tasks.poll_due(now=at(0)) == 1  # a new connection's first poll is due at once
    run_queued()
    contact = Contact.objects.get()
    assert (contact.first_name, contact.city) == ("Ada", "")

    changed_at = timezone.now()
    crm.put("C1", changed_at, city="Porto")  # its ContactUpdate webhook never arrives
    assert tasks.poll_due(now=at(4)) == 0  # polled a moment ago: due again after 5 minutes
    assert not queued
    assert tasks.poll_due(now=at(5.01)) == 1
    run_queued()
    contact.refresh_from_db()
    assert contact.city == "Porto"
    assert contact.source_updated_at == datetime.fromisoformat(iso(changed_at))
    entry = AuditEntry.objects.filter(object_type="contacts.contact").latest("id")
    assert entry.changes == {"city": ["", "Porto"]}
    assert (entry.actor_kind, entry.actor_label) == ("connection", "CRM")
    # The poll searched by dateUpdated, from (a little before) what it had read.
    last = crm.bodies[-1]
    assert last["filters"][0]["field"] == "dateUpdated"
    assert last["sort"] == [{"field": "dateUpdated", "direction": "asc"}]


def test_a_change_that_fires_no_webhook_is_caught_by_the_poll(crm, conn, run_queued):
    """Inbound DND settings fire no webhook at all (integrators, September 2026)."""
    crm.put("C1", timezone.now() - timedelta(minutes=30), firstName="Bo", email="bo@x.com",
            dnd=False)  # fmt: skip
    tasks.poll_due(now=at(0))
    run_queued()
    crm.put(
        "C1",
        timezone.now(),
        dnd=True,
        dndSettings={"SMS": {"status": "active", "message": "inbound STOP", "code": "103"}},
    )
    tasks.poll_due(now=at(5.5))
    run_queued()
    assert Contact.objects.get().dnd is True


def test_re_reading_an_unchanged_record_writes_nothing(crm, conn, run_queued):
    crm.put("C1", timezone.now() - timedelta(seconds=30), firstName="Cy", email="cy@x.com")
    tasks.poll_due(now=at(0))
    run_queued()
    contact = Contact.objects.get()
    audit, outbox = AuditEntry.objects.count(), OutboundChange.objects.count()
    link = Link.objects.get(connection=conn)

    tasks.poll_due(now=at(6))  # the overlap reads C1 again
    run_queued()
    assert len(crm.bodies) == 2
    assert (AuditEntry.objects.count(), OutboundChange.objects.count()) == (audit, outbox)
    assert Contact.objects.get().updated_at == contact.updated_at
    assert Link.objects.get(pk=link.pk).updated_at == link.updated_at
    assert PollCheckpoint.objects.get(connection=conn).unchanged == 1


def test_a_polled_change_fans_out_to_the_other_connections(crm, conn, workspace, run_queued):
    partner = ConnectionFactory(workspace=workspace, provider="webhook", name="Signage")
    crm.put("C1", timezone.now() - timedelta(minutes=1), firstName="Di", email="di@x.com")
    tasks.poll_due(now=at(0))
    run_queued()
    rows = OutboundChange.objects.all()
    assert {row.connection_id for row in rows} == {partner.pk}  # never back to the CRM


# --- the checkpoint ------------------------------------------------------------------------


def test_the_checkpoint_advances_only_with_a_committed_page(crm, conn, monkeypatch):
    base = timezone.now() - timedelta(hours=2)
    for n in range(150):
        crm.put(f"C{n:03d}", base + timedelta(seconds=n), email=f"p{n}@x.com")
    original = Poller._advance
    pages = []

    def crash_on_the_second_page(self, checkpoint, items, *args):
        pages.append(len(items))
        original(self, checkpoint, items, *args)
        if len(pages) == 2:
            raise RuntimeError("worker killed")  # after the writes, before the commit

    monkeypatch.setattr(Poller, "_advance", crash_on_the_second_page)
    Poller(conn).run()
    checkpoint = PollCheckpoint.objects.get(connection=conn)
    assert Contact.objects.count() == 100  # the second page was rolled back with its checkpoint
    assert checkpoint.cursor["searchAfter"] == [_ms(crm.contacts["C099"]["dateUpdated"]), "C099"]
    assert "worker killed" in checkpoint.last_error
    assert checkpoint.seen_until == datetime.fromisoformat(crm.contacts["C099"]["dateUpdated"])

    monkeypatch.setattr(Poller, "_advance", original)
    Poller(conn).run()
    assert crm.bodies[-1]["searchAfter"] == checkpoint.cursor["searchAfter"]  # page 2 again
    assert Contact.objects.count() == 150
    assert Link.objects.filter(connection=conn).count() == 150
    assert AuditEntry.objects.filter(object_type="contacts.contact").count() == 150
    checkpoint.refresh_from_db()
    assert (checkpoint.cursor, checkpoint.last_error, checkpoint.created) == (None, "", 150)
    newest = datetime.fromisoformat(crm.contacts["C149"]["dateUpdated"])
    assert checkpoint.since == newest - timedelta(seconds=120)  # the overlap


def test_a_sweep_longer_than_a_run_goes_on_in_the_next_minute(crm, conn):
    base = timezone.now() - timedelta(hours=1)
    for n in range(120):
        crm.put(f"C{n:03d}", base + timedelta(seconds=n), email=f"q{n}@x.com")
    ticks = iter([0.0])  # then the run's budget is spent: after the first page

    def clock() -> float:
        return next(ticks, 10_000.0)

    poller = Poller(conn, clock=clock)
    poller.run()
    assert poller.unfinished and Contact.objects.count() == 100
    assert PollCheckpoint.objects.get(connection=conn).cursor is not None


def test_a_far_future_change_time_does_not_freeze_the_poll(crm, conn):
    crm.put("C1", datetime(9999, 12, 31, tzinfo=UTC), email="f@x.com")
    started = timezone.now()
    Poller(conn).run()
    assert PollCheckpoint.objects.get(connection=conn).since <= started


# --- failures ------------------------------------------------------------------------------


def test_a_failing_poll_is_recorded_and_does_not_stop_other_connections(
    crm, conn, workspace, run_queued, caplog, admin_client
):
    other = ConnectionFactory(name="Other CRM")  # another location, the same CRM
    crm.failing_locations = {workspace.location_id}
    tasks.poll_due(now=at(0))
    with caplog.at_level(logging.WARNING, logger="ops.poll"):
        run_queued()
    failing = PollCheckpoint.objects.get(connection=conn)
    assert "500" in failing.last_error and failing.last_success_at is None
    assert PollCheckpoint.objects.get(connection=other).last_run_at is not None
    assert any("Poll of contacts from connection" in r.message for r in caplog.records)

    page = admin_client.get(f"/admin/sync/connection/{conn.pk}/change/").content.decode()
    assert '<tr class="poll-checkpoint failing">' in page and failing.last_error[:40] in page
    assert 'name="poll_interval_minutes"' in page and 'name="reconcile_interval_hours"' in page
    dashboard = admin_client.get("/admin/dashboard/").content.decode()
    assert 'id="polls-failing"' in dashboard and "CRM" in dashboard

    crm.failing_locations = set()
    tasks.poll_due(now=at(6))
    run_queued()
    assert PollCheckpoint.objects.get(connection=conn).last_error == ""


# --- the schedule --------------------------------------------------------------------------


def test_two_schedulers_racing_claim_a_due_connection_once(conn, monkeypatch):
    """Scheduler A reads the due connections; B claims them before A's UPDATE runs."""
    import ops.due

    original = ops.due.due_connections
    claimed_by_b = []

    def a_reads_then_b_runs(work, now, limit=500):
        rows = original(work, now, limit)
        monkeypatch.setattr(ops.due, "due_connections", original)
        claimed_by_b.extend(claim_due(POLL, now))
        return rows

    monkeypatch.setattr(ops.due, "due_connections", a_reads_then_b_runs)
    claimed_by_a = claim_due(POLL, at(0))
    assert claimed_by_b == [conn.pk] and claimed_by_a == []
    conn.refresh_from_db()
    assert at(4.9) < conn.poll_due_at <= at(5.01)


def test_polling_off_inactive_or_dry_run_is_never_polled(workspace, queued):
    ConnectionFactory(workspace=workspace, poll_interval_minutes=0)
    ConnectionFactory(workspace=workspace, active=False)
    ConnectionFactory(workspace=workspace, dry_run=True)
    for minutes in (0, 5, 60, 24 * 60):
        assert tasks.poll_due(now=at(minutes)) == 0
    assert not queued


def test_a_connector_that_lists_nothing_by_time_is_looked_at_again_a_day_later(workspace, queued):
    webhook = ConnectionFactory(workspace=workspace, provider="webhook")
    tasks.poll_due(now=at(0))
    assert "nothing to poll" in tasks.poll_connection(webhook.pk)
    webhook.refresh_from_db()
    assert webhook.poll_due_at > at(23 * 60)


def test_a_connection_with_nothing_to_poll_is_not_queued_as_a_task_that_would_say_so(
    workspace, queued
):
    """At an agency's scale, hundreds of such tasks would queue ahead of every push."""
    webhooks = [
        ConnectionFactory(workspace=workspace, provider="webhook", slug=f"hook-{n}")
        for n in range(3)
    ]
    crm = ConnectionFactory(workspace=workspace)
    assert tasks.poll_due(now=at(0)) == 1
    assert queued == [(tasks.POLL_TASK, crm.pk)]
    for webhook in webhooks:
        webhook.refresh_from_db()
        assert webhook.poll_due_at > at(23 * 60)  # looked at again a day later
    assert tasks.poll_due(now=at(6)) == 1  # the CRM's next poll; the webhooks' are not due


@pytest.mark.parametrize("idle", [10, 200])
def test_finding_the_due_connections_costs_the_same_whatever_the_idle_ones(workspace, queued, idle):
    later = at(60)
    Connection.objects.bulk_create(
        Connection(workspace=workspace, provider="highlevel", name=f"Idle {n}",
                   slug=f"idle-{n}", base_url=CRM, poll_due_at=later)
        for n in range(idle)
    )  # fmt: skip
    due = ConnectionFactory(workspace=workspace)
    with CaptureQueriesContext(db) as queries:
        assert tasks.poll_due(now=at(1)) == 1
    # One SELECT of the due ones (through the partial index), one claiming UPDATE, and the
    # claimed ones read with their mappings (is there anything to poll?).
    assert len(queries) == 4, [q["sql"] for q in queries]
    assert queued == [(tasks.POLL_TASK, due.pk)]
    assert due_connections(POLL, at(1)) == []
    # The SELECT reads the partial index of enabled connections by due time. (A table this
    # small may be read whole once autovacuum has analysed it: the index must still serve.)
    # The query explained is the poller's own, ordered by due time.
    with transaction.atomic():
        if db.vendor == "postgresql":
            db.cursor().execute("SET LOCAL enable_seqscan = off")
        plan = due_query(POLL, at(1))[:CLAIM_BATCH].explain()
    assert "conn_poll_due" in plan, plan


# --- any connector that lists by change time ---------------------------------------------


class PartnerLike(Connector):
    """A partner whose records carry `updatedAt` and page by an opaque cursor."""

    provider = "webhook"
    incremental_types = frozenset({"contact"})
    records: list[dict] = []
    cursors: list = []

    def fetch_page(self, object_type, cursor=None):
        self.cursors.append(cursor)
        since = datetime.fromisoformat(cursor["updatedSince"])
        rows = [r for r in self.records if datetime.fromisoformat(r["updatedAt"]) >= since]
        start = int(cursor.get("offset", 0))
        more = start + 1 < len(rows)
        return Page(rows[start : start + 1], {**cursor, "offset": start + 1} if more else None)


def test_the_engine_polls_any_connector_that_declares_incremental_types(workspace, monkeypatch):
    partner = ConnectionFactory(workspace=workspace, provider="webhook", name="Partner")
    partner.inbound_permissions = {"contact": {"operations": ["create", "update"], "fields": "*"}}
    partner.save()
    now = timezone.now()
    PartnerLike.records = [
        {"id": "p1", "email": "one@x.com", "updatedAt": iso(now - timedelta(minutes=3))},
        {"id": "p2", "email": "two@x.com", "updatedAt": iso(now - timedelta(minutes=2))},
    ]
    PartnerLike.cursors = []
    FieldMappingFactory(connection=partner, mirror_field="email", remote_path="email")
    monkeypatch.setattr("ops.poll.connector_for", lambda connection: PartnerLike(connection))
    Poller(partner).run()
    assert set(Contact.objects.values_list("email", flat=True)) == {"one@x.com", "two@x.com"}
    assert [c.get("offset") for c in PartnerLike.cursors] == [None, 1]
    checkpoint = PollCheckpoint.objects.get(connection=partner)
    assert checkpoint.seen_until == datetime.fromisoformat(PartnerLike.records[1]["updatedAt"])


def test_a_changed_interval_takes_effect_at_once(conn):
    from ops.admin_poll import reschedule

    conn.poll_due_at = conn.reconcile_due_at = at(600)
    conn.reconcile_interval_hours = 2
    reschedule(conn, ["contacts_direction", "reconcile_interval_hours"])
    assert conn.poll_due_at <= at(0)
    assert at(119) < conn.reconcile_due_at <= at(120)


def test_a_type_another_run_is_polling_is_left_to_it(crm, conn):
    """A backlog or a second cluster may start a run while one is paging: one polls at once."""
    crm.put("C1", timezone.now() - timedelta(minutes=1), email="busy@x.com")
    PollCheckpoint.objects.create(
        connection=conn, object_type="contact", since=at(-60), lease_until=at(1), lease_token="x"
    )
    assert Poller(conn).run() == {"contact": "busy: another run polls it"}
    assert not crm.bodies and not Contact.objects.exists()
    PollCheckpoint.objects.update(lease_until=at(-0.1))  # its worker died: the lease lapsed
    Poller(conn).run()
    assert Contact.objects.get().email == "busy@x.com"


def test_an_operator_turns_the_poll_off_and_the_reconcile_to_hourly_in_the_admin(
    admin_client, conn, queued
):
    from tests.sync.test_connection_targets import change

    response = change(admin_client, conn, poll_interval_minutes=0, reconcile_interval_hours=1)
    assert response.status_code == 302
    conn.refresh_from_db()
    assert (conn.poll_interval_minutes, conn.reconcile_interval_hours) == (0, 1)
    assert tasks.poll_due(now=at(60)) == 0 and not queued
    assert tasks.reconcile_due(now=at(61)) == 1
    assert change(admin_client, conn, name="Renamed").status_code == 302  # intervals kept
    conn.refresh_from_db()
    assert (conn.poll_interval_minutes, conn.reconcile_interval_hours) == (0, 1)
