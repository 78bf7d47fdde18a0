"""Webhook test kit: a test key pair for the CRM, signed posts, and running queued events."""

import base64
import copy
import json
import uuid
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from django.test import TestCase

from sync.inbound.processing import claim_batch, process_batch
from tests.factories import WorkspaceFactory
from tests.specs import HIGHLEVEL_SPECS
from tests.sync.factories import ConnectionFactory

EXAMPLES = HIGHLEVEL_SPECS / "webhooks"
LOCATION = "ve9EPM428h8vShlRW1KT"
APPOINTMENT_LOCATION = "0007BWpSzSwfiuSl0tR2"
URL = "/webhooks/highlevel/"


def public_pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


ED_KEY = ed25519.Ed25519PrivateKey.generate()
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_ED_KEY = ed25519.Ed25519PrivateKey.generate()


def sign_ed25519(body: bytes, key=ED_KEY) -> str:
    return base64.b64encode(key.sign(body)).decode()


def sign_rsa(body: bytes, key=RSA_KEY) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def example(event: str, **changes) -> dict:
    """The documented example of `event`, as a real delivery: webhookId and timestamp added.

    The published AppointmentUpdate/AppointmentDelete examples say "type": "AppointmentCreate";
    a real delivery names its own event, so the type is taken from the file's "event".
    """
    spec = json.loads((EXAMPLES / f"{event}.json").read_text())
    body = copy.deepcopy(spec["example"])
    body.update(type=spec["event"], webhookId=str(uuid.uuid4()), timestamp=now_iso())
    body.update(changes)
    return body


def post_crm(client, body, *, scheme: str = "ed25519", key=None, headers=None, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    signed = {}
    if scheme == "ed25519":
        signed["HTTP_X_GHL_SIGNATURE"] = sign_ed25519(data, key or ED_KEY)
    elif scheme == "rsa":
        signed["HTTP_X_WH_SIGNATURE"] = sign_rsa(data, key or RSA_KEY)
    # Run what the view queues for after commit, as a real (committed) request would.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.generic(
            "POST", URL, data, content_type="application/json", **signed, **(headers or {})
        )


@pytest.fixture(autouse=True)
def crm_test_keys(settings):
    """The CRM's keys are replaced by a test pair we can sign with (both kinds at once)."""
    settings.HIGHLEVEL_WEBHOOK_PUBLIC_KEYS = public_pem(ED_KEY) + "\n\n" + public_pem(RSA_KEY)


@pytest.fixture
def inbound_enqueued(broker) -> list[tuple]:
    """Wakes of the inbound processing task that would be queued (no ids: it claims)."""
    return broker["inbound"]


@pytest.fixture
def run_inbound(inbound_enqueued):
    """Process every received event here in fair batches, as a woken worker would; returns
    the outcomes."""

    def run() -> list[str]:
        inbound_enqueued.clear()
        results = []
        while batch := claim_batch():
            results.extend(process_batch(batch))
        return results

    return run


@pytest.fixture
def crm_connection(workspace):
    return ConnectionFactory(
        workspace=workspace, name="CRM", slug="crm", company_id=LOCATION, primary=True
    )


@pytest.fixture
def appointment_connection(db):
    workspace = WorkspaceFactory(name="Clinic", location_id=APPOINTMENT_LOCATION)
    return ConnectionFactory(workspace=workspace, name="CRM clinic", slug="crm-clinic")
