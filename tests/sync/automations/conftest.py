"""Automation test kit: the CRM, the e-mail API, the notification platform and a store behind
one RequestsMock (every CRM request validated against its spec), a partner webhook sender,
and helpers to run the step queue with an injectable clock."""

import json
import time
import uuid

import pytest
import responses
from django.test import TestCase

from sync.automations.presets import create_from_template
from sync.automations.runner import drain
from sync.inbound.processing import process_event
from sync.models import Mode
from sync.transport.standard_webhooks import sign
from tests.sync.connectors.conftest import dns  # noqa: F401  (autouse: no real DNS)
from tests.sync.connectors.factories import MAILER, email_api_connection
from tests.sync.factories import CRM_BASE_URL, ConnectionFactory
from tests.sync.highlevel_spec import assert_valid_crm_request

STORE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CRM = CRM_BASE_URL


@pytest.fixture
def remote():
    """Every remote; at teardown each request sent to the CRM is checked against its spec."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        for call in mock.calls:
            if call.request.url.startswith(CRM):
                assert_valid_crm_request(call.request)


@pytest.fixture
def crm_conn(workspace):
    return ConnectionFactory(
        workspace=workspace, company_id="comp1", primary=True, name="CRM", slug="crm"
    )


@pytest.fixture
def mailer(workspace):
    conn = email_api_connection(workspace)
    conn.credentials = {**conn.credentials, "webhook_token": "tok-123456"}
    conn.options = {"project_id": "p1", "platform_id": 1, "list_id": 7}
    conn.save()
    return conn


@pytest.fixture
def store(workspace):
    return ConnectionFactory(
        workspace=workspace,
        provider="rest",
        name="Store",
        slug="store",
        base_url="https://store.example",
        credentials={"webhook_secrets": [STORE_SECRET]},
        options={"objects": {}},
        scopes="",
    )


@pytest.fixture
def post_event(client):
    """POST a signed partner event as the store would (runs the intake's on-commit work)."""

    def post(event_type, data, *, slug="store", msg_id=None):
        body = json.dumps({"type": event_type, "data": data}).encode()
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        ts = int(time.time())
        with TestCase.captureOnCommitCallbacks(execute=True):
            return client.generic(
                "POST",
                f"/webhooks/in/{slug}/",
                body,
                content_type="application/json",
                HTTP_WEBHOOK_ID=msg_id,
                HTTP_WEBHOOK_TIMESTAMP=str(ts),
                HTTP_WEBHOOK_SIGNATURE=sign(STORE_SECRET, msg_id, ts, body),
            )

    return post


@pytest.fixture
def run_steps():
    def run(now=None):
        with TestCase.captureOnCommitCallbacks(execute=True):
            return drain(now=now)

    return run


def sent(remote, method=None, prefix=""):
    return [
        c.request
        for c in remote.calls
        if (method is None or c.request.method == method) and c.request.url.startswith(prefix)
    ]


def body(request):
    return json.loads(request.body)


__all__ = ["MAILER", "process_event"]


@pytest.fixture
def automation(workspace, crm_conn, mailer, store):
    """The store-purchase template, enabled, with a welcome e-mail template id."""
    automation = create_from_template(
        "store_purchase",
        workspace=workspace,
        connections={"crm": crm_conn, "email": mailer, "source": store},
    )
    welcome = automation.actions.get(position=3)
    welcome.inputs = {**welcome.inputs, "type_id": 12}
    welcome.save()
    automation.mode = Mode.ON
    automation.save()
    return automation
