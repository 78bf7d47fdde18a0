"""Failed deliveries in the console: filters, details, retry now, replay by range, CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sync.engine.push import drain
from sync.models import ChangeStatus, DeliveryAttempt, InboundEvent, OutboundChange
from tests.factories import ContactFactory
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
CHANGES = reverse("admin:sync_outboundchange_changelist")


@pytest.fixture
def failed(crm, workspace):
    ConnectionFactory(workspace=workspace, name="Main CRM")
    crm.post(
        CRM + "/contacts/",
        status=422,
        json={"message": ["email must be an email"], "token": "leaked-secret"},
    )
    contact = ContactFactory(workspace=workspace)
    drain()
    change = OutboundChange.objects.get(object_id=contact.pk)
    assert change.status == ChangeStatus.FAILED
    return change


def test_failed_rows_are_filterable_with_their_error(admin_client, failed):
    page = admin_client.get(CHANGES, {"status__in": "failed,dead"}).content.decode()
    assert "email must be an email" in page and f">{failed.pk}<" in page
    page = admin_client.get(CHANGES, {"status__exact": "done"}).content.decode()
    assert "email must be an email" not in page


def test_error_details_show_redacted_request_and_response(admin_client, failed):
    page = admin_client.get(reverse("admin:sync_outboundchange_change", args=[failed.pk]))
    html = page.content.decode()
    assert "email must be an email" in html and "leaked-secret" not in html
    assert "pit-test-secret-token-0001" not in html


def test_retry_now_pushes_and_shows_done(admin_client, crm, failed):
    crm.replace("POST", CRM + "/contacts/", json={"contact": {"id": "R9"}}, status=201)
    crm.get(CRM + "/contacts/search/duplicate", json={"contact": None})  # the lost create?
    response = admin_client.post(
        CHANGES, {"action": "retry_now", "_selected_action": [failed.pk]}, follow=True
    )
    assert "Retried 1 row(s): 1 done, 0 not" in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == ChangeStatus.DONE and failed.last_error == ""
    done_page = admin_client.get(CHANGES, {"status__exact": "done"}).content.decode()
    assert f">{failed.pk}<" in done_page


def test_retry_now_reports_a_row_that_fails_again(admin_client, failed):
    response = admin_client.post(
        CHANGES, {"action": "retry_now", "_selected_action": [failed.pk]}, follow=True
    )
    assert "Retried 1 row(s): 0 done, 1 not" in response.content.decode()


def test_replay_by_connection_and_time_range(admin_client, failed, workspace, enqueued):
    other = ConnectionFactory(workspace=workspace, name="Other")
    old = OutboundChange.objects.create(
        connection=failed.connection,
        object_type="contact",
        object_id=failed.object_id,
        status=ChangeStatus.DEAD,
    )
    OutboundChange.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    foreign = OutboundChange.objects.create(
        connection=other,
        object_type="contact",
        object_id=failed.object_id,
        status=ChangeStatus.DEAD,
    )
    url = reverse("admin:sync_outboundchange_replay")
    assert admin_client.get(url).status_code == 200
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    response = admin_client.post(
        url,
        {"connection": failed.connection.pk, "status": ["failed", "dead"], "since": since},
        follow=True,
    )
    assert "Re-queued 1 row(s)." in response.content.decode()
    statuses = dict(OutboundChange.objects.values_list("pk", "status"))
    assert statuses[failed.pk] == "pending"
    assert statuses[old.pk] == "dead" and statuses[foreign.pk] == "dead"


def test_replay_form_errors(admin_client):
    url = reverse("admin:sync_outboundchange_replay")
    page = admin_client.post(url, {"status": ["failed"], "since": "yesterday"}).content.decode()
    assert "Enter a valid date/time." in page
    page = admin_client.post(
        url, {"status": ["failed"], "since": "2026-01-02 00:00", "until": "2026-01-01 00:00"}
    ).content.decode()
    assert "must be after" in page


def _read_csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_csv_export_of_attempts_applies_the_current_filters(admin_client, failed, workspace):
    DeliveryAttempt.objects.create(
        connection=failed.connection, method="GET", path="=cmd|x", outcome="ok"
    )
    url = reverse("admin:sync_deliveryattempt_export_csv")
    rows = _read_csv(admin_client.get(url, {"outcome__exact": "ok"}))
    assert rows[0][:3] == ["id", "created_at", "connection__name"]
    assert len(rows) == 2 and rows[1][5] == "'=cmd|x"
    rows = _read_csv(admin_client.get(url))
    assert {row[7] for row in rows[1:]} == {"ok", "permanent"}
    listing = admin_client.get(
        reverse("admin:sync_deliveryattempt_changelist"), {"outcome__exact": "ok"}
    )
    assert "export.csv?outcome__exact=ok" in listing.content.decode()


def test_csv_export_of_audit_and_inbound(admin_client, failed, workspace):
    InboundEvent.objects.create(
        source="highlevel",
        source_key="highlevel",
        event_type="ContactCreate",
        webhook_id="w-1",
        body="{}",
        status="processed",
    )
    rows = _read_csv(
        admin_client.get(
            reverse("admin:sync_inboundevent_export_csv"), {"status__exact": "processed"}
        )
    )
    assert len(rows) == 2 and rows[1][4] == "ContactCreate"
    rows = _read_csv(
        admin_client.get(reverse("admin:portal_auditentry_export_csv"), {"action__exact": "create"})
    )
    assert rows[0][0] == "id" and all(row[7] == "create" for row in rows[1:]) and len(rows) > 1


def test_csv_export_with_a_bad_filter_is_a_clear_400(admin_client):
    response = admin_client.get(reverse("admin:sync_deliveryattempt_export_csv"), {"nope": "1"})
    assert response.status_code == 400
    assert "Unknown or invalid filter" in response.content.decode()


def test_csv_export_needs_staff(client):
    response = client.get(reverse("admin:portal_auditentry_export_csv"))
    assert response.status_code == 302
