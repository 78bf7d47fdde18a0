"""A delivered change's push waits for its record to be quiet from the delivery's receipt, not
from the moment a worker processed it (sync/engine/outbox.py: changes_arrived_at)."""

from datetime import timedelta

import pytest

from sync.models import InboundEvent, OutboundChange
from tests.sync.factories import ConnectionFactory
from tests.sync.webhooks.conftest import example, post_crm

pytestmark = pytest.mark.django_db


def received_earlier(seconds: float) -> list[InboundEvent]:
    """The received events, as if delivered `seconds` ago."""
    events = list(InboundEvent.objects.filter(processed_at__isnull=True).order_by("id"))
    for event in events:
        event.received_at -= timedelta(seconds=seconds)
        event.save(update_fields=["received_at"])
    return events


def test_created_together_or_one_by_one_the_rows_change_when_their_delivery_arrived(
    client, crm_connection, workspace, run_inbound, settings
):
    settings.SYNC_PUSH_DEBOUNCE_SECONDS = 2
    ConnectionFactory(workspace=workspace, name="Partner", slug="partner")  # the fan-out target
    first = example("ContactCreate", id="quiet1", email="quiet1@example.com")
    second = example("ContactCreate", id="quiet2", email="quiet2@example.com")
    for body in (first, second):
        post_crm(client, body)
    created = received_earlier(0.5)
    run_inbound()  # a run of two creates, written together
    post_crm(client, example("ContactUpdate", id="quiet1", lastName="Later"))
    [updated] = received_earlier(0.3)
    run_inbound()  # one by one
    rows = list(OutboundChange.objects.order_by("id"))
    assert len(rows) == 3
    # The run's rows count from its newest delivery; the update's from its own.
    newest_of_run = max(event.received_at for event in created)
    assert [row.changed_at for row in rows] == [newest_of_run] * 2 + [updated.received_at]
