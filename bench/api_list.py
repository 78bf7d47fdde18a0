"""Partner API list latency (p50/p99) through gunicorn on 127.0.0.1, over a database that
already holds many contacts (bench/run.py uses the one bench/backfill.py filled: 100,000).

    python bench/api_list.py --database-url postgres://…/bench_backfill [--requests 300]

Mixes what a partner does: the first page, a walk of following pages by cursor, and the
`updated_since`, `email` and `tag` filters (limit 100), and the CPU each request cost the web
workers and PostgreSQL (less noisy than wall times on a shared machine). Not a test; bounded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness


def get(url: str, token: str) -> tuple[float, dict]:
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback http
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        body = json.loads(response.read())
    return (time.perf_counter() - started) * 1000, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--min-contacts", type=int, default=100_000)
    args = parser.parse_args()
    env = harness.portal_env(args.database_url, API_RATE_LIMIT="1000000/minute")
    harness.flush_redis()
    harness.setup_django(env)
    from contacts.models import Contact
    from portal.actors import Actor
    from portal.apikeys import apikey_create
    from portal.models import ApiKey, Workspace

    workspace = Workspace.objects.order_by("id").first()
    contacts = Contact.objects.filter(workspace=workspace).count() if workspace else 0
    if contacts < args.min_contacts:
        sys.exit(f"{contacts} contacts in that database; fill it first (bench/backfill.py).")
    ApiKey.objects.filter(name="bench-list").delete()
    _key, token = apikey_create(
        name="bench-list", scopes=["contacts.readonly"], workspaces=[workspace],
        actor=Actor.system("bench"),
    )  # fmt: skip
    sample = Contact.objects.filter(workspace=workspace).order_by("id")[contacts // 2]
    web, base = harness.gunicorn(env, workers=2)
    url = f"{base}/api/v1/contacts/?limit=100"
    filtered = [
        f"{url}&updated_since={quote(sample.updated_at.isoformat())}",
        f"{url}&email={quote(sample.email or 'nobody@bench.test')}",
        f"{url}&tag=vip",
    ]
    timings: dict[str, list[float]] = {"first": [], "next": [], "filter": []}
    try:
        for _ in range(20):
            get(url, token)  # warm-up
        next_url = url
        meter = harness.CpuMeter(args.database_url.rsplit("/", 1)[1])
        for n in range(args.requests):
            if n % 3 == 0:
                elapsed, _ = get(url, token)
                timings["first"].append(elapsed)
            elif n % 3 == 1:
                elapsed, body = get(next_url, token)
                timings["next"].append(elapsed)
                next_url = body.get("next") or url
            else:  # each filter in turn (n % 3 is always 2 here)
                elapsed, _ = get(filtered[n // 3 % len(filtered)], token)
                timings["filter"].append(elapsed)
        cpu = meter.stop()
    finally:
        web.stop()
    every = [t for values in timings.values() for t in values]
    harness.report(
        "api_list", contacts=contacts, requests=len(every),
        p50_ms=round(harness.percentile(every, 50), 1),
        p99_ms=round(harness.percentile(every, 99), 1),
        by_kind={k: round(harness.percentile(v, 99), 1) for k, v in timings.items()},
        cpu_ms_per_request={k: round(v * 1000 / args.requests, 1) for k, v in cpu.items()},
    )  # fmt: skip


if __name__ == "__main__":
    main()
