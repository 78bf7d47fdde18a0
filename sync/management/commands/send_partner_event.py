"""`send_partner_event SLUG --type T [--data JSON] [--url URL]`: POST an event to the portal's
partner webhook as that partner would (Standard Webhooks, signed with the connection's secret).

For demos and smoke tests: e.g. the store's purchase, which an automation turns into a CRM
follow-up task (`make demo`).
"""

import json
import time
import uuid

import requests
from django.core.management.base import BaseCommand, CommandError

from sync.models import Connection
from sync.transport.standard_webhooks import sign

SAMPLE_PURCHASE = {
    "order_id": "o-1001",
    "customer": {"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"},
    "product": {"name": "Compiler course"},
}


class Command(BaseCommand):
    help = "POST a signed partner event to /webhooks/in/<slug>/ (demos, smoke tests)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the partner connection's slug")
        parser.add_argument("--type", default="purchase.created")
        parser.add_argument("--data", default="", help="JSON object (default: a sample purchase)")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the portal")

    def handle(self, *args, slug: str, type: str, data: str, url: str, **options) -> None:
        connection = Connection.objects.live().filter(slug=slug).first()
        secrets = (connection.credentials or {}).get("webhook_secrets") if connection else None
        if not secrets:
            raise CommandError(f"No connection {slug!r} with a webhook secret.")
        try:
            payload = json.loads(data) if data else SAMPLE_PURCHASE
        except ValueError as exc:
            raise CommandError(f"--data is not JSON: {exc}") from None
        body = json.dumps({"type": type, "data": payload})
        msg_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
        response = requests.post(
            f"{url.rstrip('/')}/webhooks/in/{slug}/",
            data=body.encode(),
            headers={
                "Content-Type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secrets[0], msg_id, timestamp, body),
            },
            timeout=10,
        )
        self.stdout.write(f"{response.status_code} {response.text}")
