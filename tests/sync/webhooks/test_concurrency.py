"""Several processes at once (threads, each with its own database connection, real commits)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from contacts.models import Contact
from portal.models import AuditEntry
from sync.inbound.processing import process_event, process_received, sweep
from sync.models import InboundEvent, InboundStatus
from tests.concurrency import in_parallel
from tests.sync.webhooks.conftest import example, post_crm

pytestmark = pytest.mark.django_db(transaction=True)


def test_identical_deliveries_arriving_together_are_stored_and_applied_once(
    crm_connection, inbound_enqueued
):
    body = example("ContactCreate")
    responses = in_parallel(lambda: post_crm(Client(), body), count=4)
    assert sorted(r.status_code for r in responses) == [200] * 4
    assert sorted(r.json()["status"] for r in responses) == ["accepted"] + ["duplicate"] * 3
    event = InboundEvent.objects.get()
    results = in_parallel(lambda: process_event(event.pk), count=3)
    assert sorted(results).count("not claimed") == 2
    assert Contact.objects.count() == 1
    assert AuditEntry.objects.filter(object_type="contacts.contact").count() == 1
    assert InboundEvent.objects.get().status == InboundStatus.PROCESSED


def test_the_sweeper_recovers_lost_and_abandoned_events(crm_connection, inbound_enqueued, settings):
    post_crm(Client(), example("ContactCreate"))  # its wake is lost with the broker's queue
    dead_worker = post_crm(
        Client(), example("ContactCreate", id="X2", webhookId="w2", email="x2@example.com")
    ).json()["id"]
    InboundEvent.objects.filter(pk=dead_worker).update(
        attempts=1, lease_token="gone", lease_until=timezone.now() - timedelta(seconds=1)
    )
    inbound_enqueued.clear()
    assert sweep() == {"failed": 0, "due": 1}
    assert inbound_enqueued == [("sync.inbound.tasks.process_received",)]
    assert process_received() == {"processed": 2}  # the woken task claims both
    assert Contact.objects.count() == 2


def test_an_event_that_kills_its_worker_every_time_ends_failed(crm_connection, settings):
    event_id = post_crm(Client(), example("ContactCreate")).json()["id"]
    InboundEvent.objects.filter(pk=event_id).update(
        attempts=settings.WEBHOOK_MAX_ATTEMPTS,
        lease_token="gone",
        lease_until=timezone.now() - timedelta(seconds=1),
    )
    assert sweep()["failed"] == 1
    event = InboundEvent.objects.get()
    assert event.status == InboundStatus.FAILED and "died" in event.error
