"""Changelists and console pages run a bounded number of queries whatever the row count."""

import pytest
from django.urls import reverse

from sync.models import DeliveryAttempt, InboundEvent, OutboundChange
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def _rows(workspace, n: int, batch: str) -> None:
    conns = [ConnectionFactory(workspace=workspace, dry_run=True) for _ in range(2)]
    contact = ContactFactory(workspace=workspace)
    for i in range(n):
        conn = conns[i % 2]
        change = OutboundChange.objects.create(
            connection=conn, object_type="contact", object_id=contact.pk, status="dead"
        )
        DeliveryAttempt.objects.create(
            connection=conn, change=change, method="POST", path="/x", outcome="retryable"
        )
        InboundEvent.objects.create(
            source="highlevel",
            source_key="highlevel",
            connection=conn,
            event_type="ContactUpdate",
            webhook_id=f"w{batch}{i}",
            body="{}",
            object_type="contact",
            remote_id=f"r{i}",
        )


PAGES = [
    ("admin:sync_outboundchange_changelist", {}),
    ("admin:sync_outboundchange_changelist", {"status__in": "failed,dead"}),
    ("admin:sync_deliveryattempt_changelist", {}),
    ("admin:sync_deliveryattempt_changelist", {"outcome__exact": "retryable", "method": "POST"}),
    ("admin:sync_inboundevent_changelist", {}),
    ("admin:sync_inboundevent_changelist", {"event_type": "ContactUpdate"}),
    ("admin:portal_auditentry_changelist", {}),
    ("admin:portal_auditentry_changelist", {"source": "tests"}),
    ("admin:sync_link_changelist", {}),
    ("admin:contacts_contact_changelist", {}),
    ("dashboard", {}),
]


@pytest.mark.parametrize(("name", "params"), PAGES)
def test_query_count_does_not_grow_with_rows(
    admin_client, workspace, name, params, django_assert_max_num_queries
):
    _rows(workspace, 3, "a")
    with django_assert_max_num_queries(15) as small:
        assert admin_client.get(reverse(name), params).status_code == 200
    _rows(workspace, 30, "b")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert admin_client.get(reverse(name), params).status_code == 200
