"""`demo`: the portal (web + worker), the sandbox CRM and demo data, all in the foreground.

Started by `make demo` (after migrate and ensure_admin). Ctrl-C stops everything. State lives
in --dir (default var/demo): the sandbox's SQLite file and its webhook public key, which the
portal is given through HIGHLEVEL_WEBHOOK_PUBLIC_KEYS so it accepts the sandbox's signatures.

A stand-in partner app (sandbox/standins/partner.py) listens on --partner-port: a REST
connection lists its contacts into the portal (and the worker pushes them on to the sandbox
CRM); a change made through its API comes back as an HMAC-signed webhook in its own format.

A stand-in notification platform (sandbox/standins/notifications.py) also listens on
--notify-port, so a newcomer can add a notification-platform connection in the admin and run
its first sync (`make demo` allows 127.0.0.1 in SSRF_ALLOWED_HOSTS for the demo's processes).
"""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import requests
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from contacts.models import Contact
from contacts.services import contact_create, task_create
from portal.actors import Actor
from sandbox import DEFAULT_LOCATION_ID, DEFAULT_TOKEN
from sandbox.standins.notifications import NotificationStandIn
from sandbox.standins.partner import MAPPINGS as PARTNER_MAPPINGS
from sandbox.standins.partner import PartnerStandIn
from sandbox.standins.partner import connection_options as partner_options
from sync.models import Connection
from sync.transport.ssrf import allowed_hosts

CONNECTION = "sandbox-crm"
CRM_HEADERS = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Version": "2021-07-28"}
CRM_PEOPLE = [
    ("Ada", "Lovelace", "ada@example.com", "Send the engine notes"),
    ("Grace", "Hopper", "grace@example.com", "Book a compiler demo"),
    ("Alan", "Turing", "alan@example.com", "Review the test plan"),
]
PORTAL_PEOPLE = [("Katherine", "Johnson", "katherine@example.com")]
NOTIFY_API_KEY = "demo-notify-key"
PARTNER_CONNECTION = "partner-app"
PARTNER_API_KEY = "demo-partner-key"
PARTNER_SIGNING_KEY = "demo-partner-signing-key"
PARTNER_PEOPLE = [
    ("Hedy", "Lamarr", "hedy@example.com", "Vienna"),
    ("Margaret", "Hamilton", "margaret@example.com", "Boston"),
]


class Command(BaseCommand):
    help = "Run the portal, its worker and the sandbox CRM with demo data (Ctrl-C stops all)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--crm-port", type=int, default=8765)
        parser.add_argument("--notify-port", type=int, default=8766)
        parser.add_argument("--partner-port", type=int, default=8767)
        parser.add_argument("--dir", default="var/demo", help="sandbox state and key")

    def handle(
        self,
        *args,
        port: int,
        crm_port: int,
        notify_port: int,
        partner_port: int,
        dir: str,
        **options,
    ) -> None:
        if "127.0.0.1" not in allowed_hosts():
            # The sandbox CRM and the stand-ins listen on 127.0.0.1; a connection sends its
            # credentials only to an allowed host.
            raise CommandError(
                "The demo's stand-ins listen on 127.0.0.1: set SSRF_ALLOWED_HOSTS=127.0.0.1 "
                "(make demo does)."
            )
        state = Path(dir)
        state.mkdir(parents=True, exist_ok=True)
        key_file = state / "crm_webhook_public_key.pem"
        crm_url = f"http://127.0.0.1:{crm_port}"
        webhook_url = f"http://127.0.0.1:{port}/webhooks/highlevel/"
        crm = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                sys.executable,
                "manage.py",
                "run_sandbox_crm",
                "--port",
                str(crm_port),
                "--db",
                str(state / "crm.sqlite3"),
                "--public-key-out",
                str(key_file),
            ]
        )
        try:
            self._wait_for(crm_url, crm)
            self._seed_crm(crm_url)
            # Webhooks only from now on: the seed records arrive by backfill, and nothing is
            # sent to a portal that is not listening yet.
            requests.post(
                f"{crm_url}/_sandbox/config", json={"webhook_url": webhook_url}, timeout=10
            ).raise_for_status()
            self._connect_and_backfill(crm_url)
            self._seed_portal()
            seed_store_automation(Connection.objects.get(slug=CONNECTION))
            partner = start_partner_standin(partner_port, port, state / "partner.json")
            self._connect_partner(partner)
            call_command("setup_schedules", stdout=open(os.devnull, "w"))  # noqa: SIM115
            os.environ["HIGHLEVEL_WEBHOOK_PUBLIC_KEYS"] = str(key_file.resolve())
            notify = start_notification_standin(notify_port)
            text = instructions(port, crm_url, notify.base_url, partner.base_url)
            self.stdout.write(self.style.SUCCESS(text))
            call_command("serve", port=port)
        finally:
            if crm.poll() is None:
                crm.terminate()
                crm.wait(10)

    def _wait_for(self, crm_url: str, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError("The sandbox CRM did not start (is its port taken?).")
            try:
                requests.get(f"{crm_url}/_sandbox/stats", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise CommandError(f"The sandbox CRM did not answer on {crm_url}.")

    def _seed_crm(self, crm_url: str) -> None:
        """A few contacts with a task each, made through the CRM's own API (first run only)."""
        listing = requests.get(
            f"{crm_url}/contacts/",
            params={"locationId": DEFAULT_LOCATION_ID, "limit": 1},
            headers=CRM_HEADERS,
            timeout=10,
        ).json()
        if listing.get("contacts"):
            return
        for first, last, email, task in CRM_PEOPLE:
            body = {"locationId": DEFAULT_LOCATION_ID, "firstName": first, "lastName": last}
            body |= {"email": email, "tags": ["demo"]}
            created = requests.post(
                f"{crm_url}/contacts/", json=body, headers=CRM_HEADERS, timeout=10
            ).json()
            contact_id = created["contact"]["id"]
            requests.post(
                f"{crm_url}/contacts/{contact_id}/tasks",
                json={"title": task, "dueDate": "2030-01-01T09:00:00Z", "completed": False},
                headers=CRM_HEADERS,
                timeout=10,
            )

    def _connect_and_backfill(self, crm_url: str) -> None:
        connection = Connection.objects.live().filter(slug=CONNECTION).first()
        if connection is None:
            call_command(
                "connections",
                "add",
                "highlevel",
                "--name",
                "Sandbox CRM",
                "--base-url",
                crm_url,
                "--token",
                DEFAULT_TOKEN,
                "--location-id",
                DEFAULT_LOCATION_ID,
                stdout=self.stdout,
            )
        elif connection.base_url != crm_url:
            Connection.objects.filter(pk=connection.pk).update(base_url=crm_url)
        call_command(
            "backfill", CONNECTION, "--objects", "users,contacts,tasks,notes", stdout=self.stdout
        )

    def _seed_portal(self) -> None:
        """Records made in the portal: the worker pushes them to the CRM (first run only)."""
        connection = Connection.objects.get(slug=CONNECTION)
        actor = Actor.system("demo", source="command")
        for first, last, email in PORTAL_PEOPLE:
            workspace = connection.workspace
            if Contact.objects.filter(workspace=workspace, email=email).exists():
                continue
            contact = contact_create(
                workspace=workspace,
                actor=actor,
                data={"first_name": first, "last_name": last, "email": email, "tags": ["demo"]},
            )
            task_create(
                workspace=workspace,
                actor=actor,
                data={
                    "contact": contact,
                    "title": "Welcome call (made in the portal)",
                    "due_date": timezone.now() + timedelta(days=2),
                },
            )

    def _connect_partner(self, partner: PartnerStandIn) -> Connection:
        """A REST connection to the stand-in partner; its contacts listed into the portal and
        queued for the CRM (the partner's own contacts: first run only)."""
        if not partner.contacts:
            for first, last, email, city in PARTNER_PEOPLE:
                partner.add(firstName=first, lastName=last, email=email, city=city)
        crm = Connection.objects.get(slug=CONNECTION)
        connection, created = Connection.objects.live().get_or_create(
            slug=PARTNER_CONNECTION,
            defaults={"workspace": crm.workspace, "provider": "rest", "name": "Partner app (demo)",
                      "base_url": partner.base_url, "options": partner_options(),
                      "credentials": {"api_key": PARTNER_API_KEY,
                                      "webhook_secrets": [PARTNER_SIGNING_KEY]},
                      "contacts_direction": "both", "users_direction": "off",
                      "tasks_direction": "off", "notes_direction": "off",
                      "appointments_direction": "off"},
        )  # fmt: skip
        if created:
            for position, row in enumerate(PARTNER_MAPPINGS):
                connection.mappings.create(object_type="contact", position=position, **row)
        elif connection.base_url != partner.base_url:
            Connection.objects.filter(pk=connection.pk).update(base_url=partner.base_url)
        call_command("backfill", PARTNER_CONNECTION, "--propagate", stdout=self.stdout)
        return connection


def start_partner_standin(port: int, portal_port: int, state_file: Path) -> PartnerStandIn:
    """The stand-in partner app, in this process; it announces its changes to the portal."""
    webhook_url = f"http://127.0.0.1:{portal_port}/webhooks/in/{PARTNER_CONNECTION}/"
    return PartnerStandIn(
        PARTNER_API_KEY,
        port,
        notify=(webhook_url, PARTNER_SIGNING_KEY),
        state_file=str(state_file),
    ).start()


def start_notification_standin(port: int) -> NotificationStandIn:
    """The stand-in notification platform, in this process (it lives while `serve` runs)."""
    return NotificationStandIn(NOTIFY_API_KEY, port).start()


def seed_store_automation(crm: Connection) -> None:
    """A store (partner webhooks in), an e-mail API in sandbox mode (records its would-be
    requests) and the "store purchase" automation from its template, disabled (first run)."""
    from sync.automations.presets import create_from_template
    from sync.transport.standard_webhooks import new_secret

    workspace = crm.workspace
    store, _ = Connection.objects.get_or_create(
        slug="store",
        defaults={"workspace": workspace, "provider": "rest", "name": "Store (demo)",
                  "base_url": "https://store.example", "options": {"objects": {}},
                  "credentials": {"webhook_secrets": [new_secret()]}},
    )  # fmt: skip
    mailer, _ = Connection.objects.get_or_create(
        slug="demo-mailer",
        defaults={"workspace": workspace, "provider": "email_api", "name": "E-mail API (sandbox)",
                  "base_url": "https://api.sendios.io/v1", "dry_run": True,
                  "credentials": {"client_id": "demo", "api_key": "demo"},
                  "options": {"project_id": "1", "platform_id": 1}},
    )  # fmt: skip
    if workspace.automations.filter(preset="store_purchase").exists():
        return
    automation = create_from_template(
        "store_purchase",
        workspace=workspace,
        connections={"crm": crm, "email": mailer, "source": store},
    )
    automation.actions.filter(position=3).update(
        inputs={"email": "{{ data.customer.email }}", "type_id": 1}
    )


def instructions(port: int, crm_url: str, notify_url: str = "", partner_url: str = "") -> str:
    portal = f"http://127.0.0.1:{port}"
    return f"""
Demo ready.
  Portal admin:      {portal}/admin/  (user "admin"; password printed by ensure_admin above)
  Contacts:          {portal}/admin/contacts/contact/
  Outbox / calls:    {portal}/admin/sync/outboundchange/  and  /admin/sync/deliveryattempt/
  Sandbox CRM page:  {crm_url}/

Try, CRM → portal:
  - edit a contact on the sandbox page, or:
      curl -X PUT {crm_url}/contacts/<id> -H 'Authorization: Bearer {DEFAULT_TOKEN}' \\
           -H 'Version: 2021-07-28' -H 'Content-Type: application/json' -d '{{"city": "Lisbon"}}'
    the sandbox sends a signed webhook to {portal}/webhooks/highlevel/ and the contact changes
    in the admin (a missed webhook is caught by `manage.py reconcile {CONNECTION} --repair`).
Try, portal → CRM:
  - edit Katherine Johnson (or any contact) in the admin: the worker pushes the change and the
    sandbox page shows it; each call is a row under Delivery attempts.
Try, a new system's first sync (a stand-in notification platform listens on {notify_url}):
  - {portal}/admin/sync/connection/add/ — provider "Notification platform", base URL
    {notify_url}, new credentials {{"api_key": "{NOTIFY_API_KEY}"}}, users/tasks/notes/
    appointments directions "Off"; save, then follow "run its first sync" and start it;
  - watch "First syncs" on {portal}/admin/dashboard/ and the subscribers arrive on
    {notify_url}/ .
Try, partner → portal → CRM (a stand-in partner app listens on {partner_url}):
  - its contacts were listed into the portal at start (connection "Partner app (demo)", REST:
    list/get and webhook format in its options) and the worker pushed them on to the sandbox CRM;
  - change one there as its users would (its page {partner_url}/ lists them):
      curl -X PATCH {partner_url}/api/contacts/p1 -H 'X-API-Key: {PARTNER_API_KEY}' \\
           -H 'Content-Type: application/json' -d '{{"city": "Lisbon"}}'
    it sends an HMAC-signed webhook in its own format (X-Partner-Signature) to
    {portal}/webhooks/in/{PARTNER_CONNECTION}/; the contact changes in the admin and reaches the
    sandbox CRM. Or pull what changed: .venv/bin/python manage.py backfill {PARTNER_CONNECTION}
    --propagate (a change made in the portal reaches the partner and is not pulled back).
Try an automation (store purchase → CRM follow-up task + welcome e-mail):
  - enable "Store purchase → CRM follow-up task + welcome e-mail" at {portal}/admin/sync/automation/
    (select it, action "Enable"), then post a purchase as the store would:
      .venv/bin/python manage.py send_partner_event store --url {portal}
    the run appears under {portal}/admin/sync/automationrun/ and the follow-up task on the
    sandbox page (the e-mail API is in sandbox mode: its would-be requests are in the run).
Ctrl-C stops the portal, the worker and the sandbox.
"""
