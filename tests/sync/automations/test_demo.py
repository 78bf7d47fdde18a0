"""The `make demo` path against an in-process sandbox CRM: enable "store purchase", post a
purchase as the store would, and find the follow-up task in the sandbox CRM."""

import json
import time
from io import StringIO

import pytest
import responses
from django.test import TestCase

from sandbox import SandboxCRM
from sandbox.management.commands.demo import Command, seed_store_automation
from sync.automations.runner import drain
from sync.management.commands.send_partner_event import SAMPLE_PURCHASE
from sync.models import Automation, AutomationRun, Connection, Mode, RunStatus
from sync.transport.standard_webhooks import sign
from sync.transport.standard_webhooks import verify as verify_standard

pytestmark = pytest.mark.django_db


def test_a_store_purchase_becomes_a_follow_up_task_in_the_sandbox_crm(tmp_path, client, settings):
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]  # as `make demo` sets it
    with SandboxCRM(str(tmp_path / "crm.sqlite3")) as crm:
        command = Command(stdout=StringIO())
        command._seed_crm(crm.base_url)
        command._connect_and_backfill(crm.base_url)
        for _ in range(2):  # a second `make demo` adds nothing
            seed_store_automation(Connection.objects.get(slug="sandbox-crm"))
        automation = Automation.objects.get()
        assert automation.mode == Mode.OFF
        Automation.objects.filter(pk=automation.pk).update(mode=Mode.ON)

        store = Connection.objects.get(slug="store")
        body = json.dumps({"type": "purchase.created", "data": SAMPLE_PURCHASE})
        ts, msg_id = int(time.time()), "msg_demo_1"
        secret = store.credentials["webhook_secrets"][0]
        with TestCase.captureOnCommitCallbacks(execute=True):
            answer = client.generic(
                "POST",
                "/webhooks/in/store/",
                body,
                content_type="application/json",
                HTTP_WEBHOOK_ID=msg_id,
                HTTP_WEBHOOK_TIMESTAMP=str(ts),
                HTTP_WEBHOOK_SIGNATURE=sign(secret, msg_id, ts, body),
            )
            assert answer.status_code == 202
        with TestCase.captureOnCommitCallbacks(execute=True):
            drain()

        run = AutomationRun.objects.get()
        assert run.status == RunStatus.DONE, list(run.steps.values("status", "last_error"))
        grace = next(c for c in crm.list("contact") if c.get("email") == "grace@example.com")
        tasks = [t for t in crm.list("task") if t.get("contactId") == grace["id"]]
        assert [t["title"] for t in tasks].count("Follow up order o-1001") == 1
        mail = run.steps.get(position=3)
        assert [c["path"] for c in mail.calls] == ["/email/check", "/push/system"]
        assert mail.calls[-1]["response"] == {"dry_run": True}  # nothing sent


def test_send_partner_event_signs_as_the_partner(workspace, store):
    from django.core.management import call_command

    with responses.RequestsMock() as mock:
        mock.post("http://portal.test/webhooks/in/store/", json={"status": "accepted"})
        out = StringIO()
        call_command("send_partner_event", "store", "--url", "http://portal.test", stdout=out)
        request = mock.calls[0].request
    assert out.getvalue().startswith("200")
    secret = store.credentials["webhook_secrets"][0]
    assert verify_standard([secret], request.headers, request.body).startswith("msg_")
    assert json.loads(request.body)["type"] == "purchase.created"
