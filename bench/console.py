"""Benchmark (not a test): server time of the console's changelists and dashboard at scale.

Loads a PostgreSQL database with COPY (bypassing the write path: a BENCHMARK fixture only) —
by default 200,000 contacts, 1,000,000 delivery attempts, 500,000 outbox rows, 200,000 inbound
events and 200,000 audit entries over 30 days and 4 connections — then times each page through
the whole Django stack in-process (test client, so network time is excluded): median and max
of --runs requests after one warm-up.

    DATABASE_URL=postgres://portal:portal@127.0.0.1:5432/portal_console_bench \
        python bench/console.py [--contacts N] [--attempts N] [--runs 5] [--keep]

The database must be a scratch one: it is migrated, and its sync/mirror tables are emptied
first unless --keep reuses the rows already loaded.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

DAYS = 30


def configure() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench import harness

    harness.test_client_env()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database (see the docstring).")


def _copy(model, columns: list[str], rows) -> int:
    """COPY rows (tuples; dicts/lists become JSON) into a model's table.

    COPY applies no Django default: every other required column gets its field's default, so
    a field added to the model later does not break this fixture; one without a default must be
    listed (an error names it before anything is loaded)."""
    from django.db import connection

    filled = [
        field
        for field in model._meta.concrete_fields
        if field.column not in columns and not field.primary_key and not field.null
    ]
    defaults = [field.get_default() for field in filled]
    missing = [field.column for field, value in zip(filled, defaults, strict=True) if value is None]
    if missing:
        raise SystemExit(f"bench/console.py: give {model._meta.db_table} a value for {missing}")
    columns = [*columns, *(field.column for field in filled)]
    sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor, cursor.connection.cursor().copy(sql) as copy:
        for row in rows:
            values = (*row, *defaults)
            copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in values])
            count += 1
    return count


def _when(i: int, total: int, now: datetime) -> datetime:
    """Spread rows over DAYS, the newest last (ids grow with time, as in production)."""
    return now - timedelta(seconds=DAYS * 86400 * (total - i) / total)


def load(contacts: int, attempts: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from contacts.models import Contact
    from portal.models import Workspace
    from sync.models import Connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE contacts_contact, sync_deliveryattempt, sync_outboundchange, "
            "sync_inboundevent, portal_auditentry, sync_link CASCADE"
        )
    now = datetime.now(UTC)
    workspace, _ = Workspace.objects.get_or_create(
        location_id="bench-location", defaults={"name": "Bench"}
    )
    conns = [
        Connection.objects.defer("credentials")
        .get_or_create(
            slug=f"bench-{n}",
            defaults={
                "workspace": workspace,
                "provider": "highlevel",
                "name": f"Bench CRM {n}",
                "base_url": "https://services.leadconnectorhq.com",
                "dry_run": True,
                "credentials": {"token": f"pit-bench-{n}"},
            },
        )[0]
        .pk
        for n in range(4)
    ]
    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    started = time.monotonic()
    _copy(
        Contact,
        [
            "workspace_id",
            "public_id",
            "created_at",
            "updated_at",
            "version",
            "first_name",
            "last_name",
            "email",
            "email_key",
            "phone",
            "gender",
            "company_name",
            "address1",
            "city",
            "state",
            "postal_code",
            "country",
            "website",
            "timezone",
            "dnd",
            "source",
            "tags",
            "custom_fields",
            "external_id",
        ],
        (
            (
                workspace.pk,
                f"ct_bench{i:012d}",
                _when(i, contacts, now),
                _when(i, contacts, now),
                1,
                f"First{i}",
                f"Last{i}",
                f"c{i}@example.com",
                f"c{i}@example.com",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                False,
                "",
                ["bench"],
                {},
                "",
            )
            for i in range(contacts)
        ),
    )
    first_contact = _min_id("contacts_contact")
    print(f"contacts: {contacts:,} in {time.monotonic() - started:.1f} s", flush=True)
    _load_sync(conns, contacts, first_contact, attempts, now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _min_id(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id) FROM {table}")  # noqa: S608 (a fixed table name)
        return cursor.fetchone()[0]


def _load_sync(conns, contacts, first_contact, attempts, now) -> None:
    from portal.models import AuditEntry
    from sync.models import DeliveryAttempt, InboundEvent, OutboundChange

    rng = random.Random(8)
    changes = attempts // 2
    statuses = ["done"] * 90 + ["coalesced"] * 5 + ["failed"] * 2 + ["dead"] + ["retrying"] * 2
    started = time.monotonic()
    _copy(
        OutboundChange,
        [
            "connection_id",
            "object_type",
            "object_id",
            "operation",
            "action",
            "audit_action",
            "changed_fields",
            "actor_label",
            "request_id",
            "status",
            "attempts",
            "available_at",
            "lease_token",
            "last_error",
            "created_at",
            "updated_at",
            "changed_at",
        ],
        (
            (
                conns[i % 4],
                "contact",
                first_contact + i % contacts,
                "sync",
                {},
                "update",
                [],
                "bench",
                "",
                (s := rng.choice(statuses)),
                1,
                _when(i, changes, now),
                "",
                "HTTP 500" if s in ("failed", "dead", "retrying") else "",
                _when(i, changes, now),
                _when(i, changes, now),
                _when(i, changes, now),
            )
            for i in range(changes)
        ),
    )
    first_change = _min_id("sync_outboundchange")
    outcomes = ["ok"] * 93 + ["retryable"] * 5 + ["permanent"] * 2
    _copy(
        DeliveryAttempt,
        [
            "connection_id",
            "change_id",
            "created_at",
            "method",
            "path",
            "status_code",
            "duration_ms",
            "outcome",
            "request_excerpt",
            "response_excerpt",
            "error",
        ],
        (
            (
                conns[i % 4],
                first_change + i // 2,
                _when(i, attempts, now),
                "PUT",
                f"/contacts/r{i % contacts}",
                200,
                rng.randint(20, 400),
                rng.choice(outcomes),
                '{"firstName": "x"}',
                '{"succeeded": true}',
                "",
            )
            for i in range(attempts)
        ),
    )
    events = max(attempts // 5, 1)
    _copy(
        InboundEvent,
        [
            "source",
            "source_key",
            "connection_id",
            "event_type",
            "webhook_id",
            "routing_key",
            "object_type",
            "remote_id",
            "body",
            "headers",
            "signature_scheme",
            "status",
            "result",
            "error",
            "attempts",
            "lease_token",
            "received_at",
        ],
        (
            (
                "highlevel",
                "highlevel",
                conns[i % 4],
                "ContactUpdate",
                f"wh-{i}",
                "bench",
                "contact",
                f"r{i % contacts}",
                "{}",
                {},
                "ed25519",
                "processed",
                "updated",
                "",
                1,
                "",
                _when(i, events, now),
            )
            for i in range(events)
        ),
    )
    _copy(
        AuditEntry,
        [
            "created_at",
            "actor_kind",
            "actor_id",
            "actor_label",
            "source",
            "request_id",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
        ],
        (
            (
                _when(i, contacts, now),
                "system",
                "",
                "bench",
                "bench",
                "",
                "update",
                "contacts.contact",
                f"ct_bench{i:012d}",
                f"First{i}",
                {"first_name": ["a", "b"]},
            )
            for i in range(contacts)
        ),
    )
    print(
        f"sync rows: {changes:,} outbox, {attempts:,} attempts, {events:,} inbound, "
        f"{contacts:,} audit in {time.monotonic() - started:.1f} s",
        flush=True,
    )


PAGES = [
    ("dashboard", "/admin/dashboard/"),
    ("contacts", "/admin/contacts/contact/"),
    ("contacts, search by e-mail", "/admin/contacts/contact/?q=c123456%40example.com"),
    ("outbox", "/admin/sync/outboundchange/"),
    ("outbox failed+dead", "/admin/sync/outboundchange/?status__in=failed,dead"),
    ("outbox by connection", "/admin/sync/outboundchange/?connection__id__exact={conn}"),
    ("attempts", "/admin/sync/deliveryattempt/"),
    ("attempts permanent", "/admin/sync/deliveryattempt/?outcome__exact=permanent"),
    ("attempts by connection", "/admin/sync/deliveryattempt/?connection__id__exact={conn}"),
    ("attempts page 100", "/admin/sync/deliveryattempt/?p=100"),
    ("inbound", "/admin/sync/inboundevent/"),
    ("inbound by type", "/admin/sync/inboundevent/?event_type=ContactUpdate"),
    ("audit", "/admin/portal/auditentry/"),
    ("audit by source", "/admin/portal/auditentry/?source=bench"),
    ("links", "/admin/sync/link/"),
    ("timeline of a contact", "/admin/contacts/contact/{contact}/timeline/"),
]


def measure(runs: int) -> list[tuple[str, float, float]]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from contacts.models import Contact
    from sync.models import Connection

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    values = {
        "conn": Connection.objects.filter(slug="bench-0").values_list("pk", flat=True)[0],
        "contact": Contact.objects.order_by("-id").values_list("pk", flat=True)[0],
    }
    results = []
    for name, url in PAGES:
        url = url.format(**values)
        assert client.get(url).status_code == 200, url  # warm-up
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, url
        results.append((name, statistics.median(times), max(times)))
        print(
            f"{name:32s} median {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms",
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="reuse the rows already loaded")
    args = parser.parse_args()
    configure()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    if not args.keep:
        load(args.contacts, args.attempts)
    slow = [r for r in measure(args.runs) if r[1] >= 1000]
    print("all under one second" if not slow else f"SLOW: {[r[0] for r in slow]}")


if __name__ == "__main__":
    main()
