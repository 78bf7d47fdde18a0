"""Benchmark (not a test): server time to accept one signed CRM webhook, median and p99.

Each request goes through the whole Django stack (middleware, Ed25519 verification over the
raw body, JSON, timestamp, routing, the InboundEvent insert and the django-q2 enqueue after
commit), via Django's test client, so network time is excluded.

    python bench/webhook_intake.py [--requests 1000]        # a fresh SQLite file
    DATABASE_URL=postgres://… python bench/webhook_intake.py  # an existing (scratch!) database
"""

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path


def configure() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench import harness

    harness.test_client_env()
    scratch = Path(tempfile.mkdtemp()) / "bench.sqlite3"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    configure()

    import django

    django.setup()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from portal.models import Workspace
    from sync.models import Connection, InboundEvent

    call_command("migrate", verbosity=0)
    key = ed25519.Ed25519PrivateKey.generate()
    settings.HIGHLEVEL_WEBHOOK_PUBLIC_KEYS = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    location = f"bench{uuid.uuid4().hex[:12]}"
    workspace = Workspace.objects.create(name=location, location_id=location)
    Connection.objects.create(
        workspace=workspace, provider="highlevel", name=location, slug=location,
        base_url="https://services.leadconnectorhq.com", credentials={"token": "bench"},
    )  # fmt: skip
    example = Path(__file__).resolve().parents[1] / "tests/specs/highlevel/webhooks"
    body = json.loads((example / "ContactUpdate.json").read_text())["example"]
    client = Client()

    def post_one() -> float:
        delivery = {**body, "locationId": location, "webhookId": str(uuid.uuid4()),
                    "timestamp": datetime.now(UTC).isoformat()}  # fmt: skip
        raw = json.dumps(delivery).encode()
        signature = base64.b64encode(key.sign(raw)).decode()
        started = time.perf_counter()
        response = client.generic(
            "POST", "/webhooks/highlevel/", raw, content_type="application/json",
            HTTP_X_GHL_SIGNATURE=signature,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content
        return elapsed * 1000

    for _ in range(min(50, args.requests)):
        post_one()  # warm-up: imports, key cache, connection
    times = sorted(post_one() for _ in range(args.requests))
    p99 = times[max(int(len(times) * 0.99) - 1, 0)]
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"{args.requests} signed webhooks accepted ({engine}, broker: "
          f"{'redis' if settings.REDIS_URL else 'orm'}); stored: "
          f"{InboundEvent.objects.filter(workspace=workspace).count()}")  # fmt: skip
    print(f"median {statistics.median(times):.2f} ms   p99 {p99:.2f} ms   "
          f"mean {statistics.fmean(times):.2f} ms   max {times[-1]:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
