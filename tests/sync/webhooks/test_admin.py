"""Inbound events in the admin: list with filters, pretty payload, reprocess (re-routing)."""

import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from sync.models import InboundEvent, InboundStatus
from tests.factories import WorkspaceFactory
from tests.sync.factories import ConnectionFactory
from tests.sync.webhooks.conftest import example, post_crm

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:sync_inboundevent_changelist"


def test_the_changelist_filters_and_the_pretty_payload_render(admin_client, client, crm_connection):
    post_crm(client, example("ContactCreate", locationId="elsewhere"))
    post_crm(client, example("ContactCreate"))
    for query in (
        "",
        "?status__exact=unmatched",
        "?event_type=ContactCreate",
        f"?connection__id__exact={crm_connection.pk}",
        f"?received_at__year={timezone.now().year}",
    ):
        assert admin_client.get(reverse(CHANGELIST) + query).status_code == 200  # fmt: skip
    unmatched = InboundEvent.objects.get(status=InboundStatus.UNMATCHED)
    page = admin_client.get(reverse("admin:sync_inboundevent_change", args=[unmatched.pk]))
    content = page.content.decode()
    assert page.status_code == 200 and "&quot;locationId&quot;: &quot;elsewhere&quot;" in content


def test_reprocess_routes_an_unmatched_event_once_its_workspace_exists(
    admin_client, client, crm_connection, run_inbound
):
    post_crm(client, example("ContactCreate", locationId="later"))
    event = InboundEvent.objects.get()
    assert event.status == InboundStatus.UNMATCHED
    workspace = WorkspaceFactory(location_id="later")
    connection = ConnectionFactory(workspace=workspace, slug="crm-later")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(
            reverse(CHANGELIST),
            {"action": "reprocess_events", "_selected_action": [event.pk]},
        )
    assert response.status_code == 302
    run_inbound()
    event.refresh_from_db()
    assert event.status == InboundStatus.PROCESSED and event.connection == connection
    assert Contact.objects.get().workspace == workspace


def test_reprocess_applies_a_failed_event_again(admin_client, client, crm_connection, run_inbound):
    post_crm(client, example("ContactCreate", email="broken"))
    run_inbound()
    event = InboundEvent.objects.get()
    assert event.status == InboundStatus.FAILED
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(
            reverse(CHANGELIST), {"action": "reprocess_events", "_selected_action": [event.pk]}
        )
    run_inbound()
    event.refresh_from_db()
    assert event.status == InboundStatus.FAILED and event.attempts == 1
