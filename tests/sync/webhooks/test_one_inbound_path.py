"""One inbound path: the same remote change gives the same mirror state and the same audit
change whether a webhook, a backfill page, a reconcile repair or the periodic poll brings it
(issue 14, items 1 and 5)."""

import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from contacts.models import Contact
from ops.models import PollCheckpoint
from ops.poll import Poller
from ops.reconcile import Reconciler
from portal.models import AuditEntry
from sync.inbound.snapshot import known_values
from sync.models import Direction, InboundEvent, Link, OutboundChange
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.webhooks.conftest import LOCATION, now_iso, post_crm

pytestmark = pytest.mark.django_db
CREATED = timezone.now() - timedelta(hours=2)
CHANGED = timezone.now() - timedelta(hours=1)


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


RECORD = {
    "id": "R1", "locationId": LOCATION, "firstName": "Ada", "email": "ada@example.com",
    "city": "Oldtown", "dateAdded": iso(CREATED), "dateUpdated": iso(CREATED),
}  # fmt: skip
CHANGED_RECORD = {**RECORD, "city": "Porto", "dateUpdated": iso(CHANGED)}


@pytest.fixture
def known(client, run_inbound, crm_connection):
    envelope = {"webhookId": str(uuid.uuid4()), "timestamp": now_iso()}
    assert post_crm(client, {"type": "ContactCreate", **envelope, **RECORD}).status_code == 200
    run_inbound()
    return Contact.objects.get()


# Each path returns what it recorded about the change (where an operator reads a refusal).
def by_webhook(client, run_inbound, crm, connection) -> str:
    envelope = {"webhookId": str(uuid.uuid4()), "timestamp": now_iso()}
    post_crm(client, {"type": "ContactUpdate", **envelope, **CHANGED_RECORD})
    run_inbound()
    event = InboundEvent.objects.get(webhook_id=envelope["webhookId"])
    return f"{event.status}: {event.result}"


def listed(crm) -> None:
    meta = {"total": 1, "startAfterId": "R1", "startAfter": 1700000000000}
    body = json.dumps({"contacts": [CHANGED_RECORD], "meta": meta})
    crm.add_callback("GET", CRM + "/contacts/", callback=lambda request: (200, {}, body))


def by_backfill(client, run_inbound, crm, connection) -> str:
    listed(crm)
    out = StringIO()
    call_command("backfill", connection.slug, "--objects", "contacts", stdout=out)
    return out.getvalue()


def by_reconcile(client, run_inbound, crm, connection) -> str:
    listed(crm)
    report = Reconciler(connection, repair=True).run(["contact"])
    return f"repaired {report.repaired}; " + " ".join(report.repair_errors)


def by_poll(client, run_inbound, crm, connection) -> str:
    """The CRM's search by dateUpdated returns the change; no webhook ever came."""
    record = {**CHANGED_RECORD, "searchAfter": [1700000000000, "R1"]}
    body = json.dumps({"contacts": [record], "total": 1})
    crm.add_callback("POST", CRM + "/contacts/search", callback=lambda request: (200, {}, body))
    Poller(connection).run()
    checkpoint = PollCheckpoint.objects.get(connection=connection, object_type="contact")
    return " ".join([checkpoint.last_error, *checkpoint.errors])


PATHS = [by_webhook, by_backfill, by_reconcile, by_poll]


@pytest.mark.parametrize("path", PATHS)
def test_the_same_change_lands_the_same_way(client, run_inbound, crm, crm_connection, known, path):
    path(client, run_inbound, crm, crm_connection)
    contact = Contact.objects.get()
    assert (contact.first_name, contact.email, contact.city) == ("Ada", "ada@example.com", "Porto")
    assert contact.source_updated_at == CHANGED
    entry = AuditEntry.objects.filter(object_type="contacts.contact").latest("id")
    assert entry.changes == {"city": ["Oldtown", "Porto"]}
    assert (entry.actor_kind, entry.actor_label) == ("connection", "CRM")
    link = Link.objects.get(connection=crm_connection, object_id=contact.pk)
    assert known_values(link)["city"] == "Porto"
    assert not OutboundChange.objects.filter(connection=crm_connection).exists()


@pytest.mark.parametrize("path", [by_webhook, by_backfill, by_reconcile])
def test_every_path_refuses_what_the_direction_does_not_let_in(
    client, run_inbound, crm, crm_connection, known, path
):
    crm_connection.contacts_direction = Direction.OUT
    crm_connection.save()
    recorded = path(client, run_inbound, crm, crm_connection)
    assert "refused: contacts direction is 'out'" in recorded
    assert Contact.objects.get().city == "Oldtown"


def test_the_poll_does_not_even_read_what_the_direction_does_not_let_in(crm, crm_connection, known):
    crm_connection.contacts_direction = Direction.OUT
    crm_connection.save()
    assert Poller(crm_connection).run() == {}
    assert not crm.calls and Contact.objects.get().city == "Oldtown"
