"""The sync dashboard panel: counts, lag, dead letters, charts, secrets on older keys."""

from datetime import timedelta

import pytest
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from sync.models import ChangeStatus, DeliveryAttempt, InboundEvent, OutboundChange
from sync.transport.crypto import key_index, secrets_on_older_keys
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
NEW_KEY = "Xy8wN2s0T3R1c3Q5Y2xhcmF0ZXN0a2V5MDEyMzQ1Njc="
OLD_KEY = "b2xkLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmNkZWZnaGk="


def _seed(workspace):
    crm = ConnectionFactory(
        workspace=workspace, name="Main CRM", health="failing", last_error="HTTP 500 from CRM"
    )
    contact = ContactFactory(workspace=workspace)
    OutboundChange.objects.filter(connection=crm).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    for status in (ChangeStatus.DEAD, ChangeStatus.DEAD, ChangeStatus.FAILED):
        OutboundChange.objects.create(
            connection=crm, object_type="contact", object_id=contact.pk, status=status
        )
    for outcome in ("ok", "ok", "permanent"):
        DeliveryAttempt.objects.create(
            connection=crm, method="POST", path="/contacts/", outcome=outcome
        )
    DeliveryAttempt.objects.create(connection=crm, method="GET", path="/contacts/", outcome="ok")
    InboundEvent.objects.create(
        source="highlevel",
        source_key="highlevel",
        connection=crm,
        event_type="ContactCreate",
        webhook_id=f"w{crm.pk}",
        body="{}",
    )
    return crm


def test_dashboard_shows_counts_lag_dead_letters_and_charts(admin_client, workspace):
    crm = _seed(workspace)
    page = admin_client.get(reverse("dashboard")).content.decode()
    assert "Main CRM" in page and "Failing" in page
    assert 'id="dead-letters"' in page
    dead_url = f"status__in=failed,dead&amp;connection__id__exact={crm.pk}"
    assert f'<a href="/admin/sync/outboundchange/?{dead_url}">3</a>' in page  # per connection
    assert "300 s" in page or "301 s" in page  # the pending row waits since 5 minutes
    # one chart, bars stacked in the current hour: 2 writes, 1 failed, 1 read, 1 inbound
    assert page.count('class="chart-svg"') == 1
    assert "writes <strong>2</strong>" in page and "failed <strong>1</strong>" in page
    assert "reads <strong>1</strong>" in page
    assert "inbound webhooks <strong>1</strong>" in page
    assert "calls per hour" in page and "hour (UTC)" in page  # labelled axes
    assert "pit-test-secret-token-0001" not in page


def test_dashboard_is_linked_from_the_admin_index_and_needs_staff(admin_client, client):
    assert reverse("dashboard") in admin_client.get(reverse("admin:index")).content.decode()
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_dashboard_queries_are_bounded(admin_client, workspace, django_assert_max_num_queries):
    for _ in range(3):
        _seed(workspace)
    with django_assert_max_num_queries(12):
        assert admin_client.get(reverse("dashboard")).status_code == 200


def test_secrets_on_older_keys_are_counted_per_key(workspace):
    with override_settings(FERNET_KEYS=[OLD_KEY]):
        ConnectionFactory(workspace=workspace)
    ConnectionFactory(workspace=workspace)
    ConnectionFactory(workspace=workspace, credentials={})
    assert secrets_on_older_keys() == {"older": 1, "unreadable": 0}
    with override_settings(FERNET_KEYS=[NEW_KEY]):
        assert secrets_on_older_keys() == {"older": 0, "unreadable": 1}


def test_key_index_names_the_key_that_opens_a_token(workspace):
    with override_settings(FERNET_KEYS=[OLD_KEY]):
        old = ConnectionFactory(workspace=workspace)
    new = ConnectionFactory(workspace=workspace)
    assert key_index(_raw_token(new)) == 0
    assert key_index(_raw_token(old)) == 1
    assert key_index("not-a-token") is None


def _raw_token(conn) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM sync_connection WHERE id = %s", [conn.pk])
        return cursor.fetchone()[0]


def test_a_later_success_ages_the_last_error_out(admin_client, workspace):
    now = timezone.now()
    crm = ConnectionFactory(workspace=workspace, name="Main CRM", last_error="HTTP 500 old",
                            last_error_at=now - timedelta(hours=1))  # fmt: skip
    assert "HTTP 500 old" in admin_client.get(reverse("dashboard")).content.decode()
    crm.record_success()
    page = admin_client.get(reverse("dashboard")).content.decode()
    assert "none since the last success" in page
    assert '<span class="error" title="HTTP 500 old">' not in page


def test_one_failure_among_many_writes_is_a_visible_bar_and_the_7_day_view(admin_client, workspace):
    crm = ConnectionFactory(workspace=workspace, name="Main CRM")
    DeliveryAttempt.objects.bulk_create(
        [DeliveryAttempt(connection=crm, method="PUT", path="/c", outcome="ok")] * 500
        + [DeliveryAttempt(connection=crm, method="PUT", path="/c", outcome="retryable")]
    )
    page = admin_client.get(reverse("dashboard")).content.decode()
    start = page.index('fill="#c62828" stroke="#fff" stroke-width="0.5"><title>')
    bar = page[page.rindex("<rect", 0, start) : start]
    height = float(bar.split('height="')[1].split('"')[0])
    assert height >= 5  # one failure of 501 calls is still a visible bar
    week = admin_client.get(reverse("dashboard"), {"range": "7d"}).content.decode()
    assert "Last 7 days per connection" in week and "calls per day" in week
    assert "writes <strong>500</strong>" in week
