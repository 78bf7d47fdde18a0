"""`make demo`'s partner: a REST connection to the stand-in partner app whose contacts flow
into the portal and on to the sandbox CRM, and whose changes come back as signed webhooks."""

from io import StringIO

import pytest
from django.test import TestCase

from contacts.models import Contact
from sandbox import SandboxCRM
from sandbox.management.commands.demo import (
    PARTNER_API_KEY,
    PARTNER_CONNECTION,
    PARTNER_SIGNING_KEY,
    Command,
    instructions,
    start_partner_standin,
)
from sync.engine.push import drain
from sync.inbound.processing import process_event
from sync.models import Link

pytestmark = pytest.mark.django_db


def test_the_demo_partner_flows_into_the_portal_and_on_to_the_crm(tmp_path, settings, client):
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]  # as `make demo` sets it
    with SandboxCRM(str(tmp_path / "crm.sqlite3")) as crm:
        command = Command(stdout=StringIO())
        command._seed_crm(crm.base_url)
        command._connect_and_backfill(crm.base_url)
        partner = start_partner_standin(0, 8000, tmp_path / "partner.json")
        try:
            for _ in range(2):  # a second `make demo` reuses the state
                command._connect_partner(partner)
            assert drain()["left"] == 0
            at_crm = {c["email"] for c in crm.list("contact")}
            assert {"hedy@example.com", "margaret@example.com"} <= at_crm
            links = Link.objects.filter(connection__slug=PARTNER_CONNECTION)
            assert set(links.values_list("remote_id", flat=True)) == {"p1", "p2"}

            # A change through the partner's API is announced in its own signed format.
            sent = []
            partner.send_webhook = lambda *args: sent.append(args)
            status, _ = partner.handle("PATCH", "/api/contacts/p1", {}, {"city": "Lisbon"})
            for thread in partner.announcements:
                thread.join(5)
            ((url, secret, record, event),) = sent
            assert url == f"http://127.0.0.1:8000/webhooks/in/{PARTNER_CONNECTION}/"
            body, headers = partner.signed_delivery(secret, record, event)
            with TestCase.captureOnCommitCallbacks(execute=True):
                response = client.generic(
                    "POST", f"/webhooks/in/{PARTNER_CONNECTION}/", body,
                    content_type="application/json",
                    HTTP_X_PARTNER_SIGNATURE=headers["X-Partner-Signature"],
                )  # fmt: skip
            assert status == 200 and response.status_code == 200
            assert secret == PARTNER_SIGNING_KEY
            process_event(response.json()["id"])  # what the worker runs
            hedy = Contact.objects.get(email="hedy@example.com")
            assert hedy.city == "Lisbon"
        finally:
            partner.stop()
    text = instructions(8000, crm.base_url, "http://127.0.0.1:8766", partner.base_url)
    assert f"/webhooks/in/{PARTNER_CONNECTION}/" in text and PARTNER_API_KEY in text
