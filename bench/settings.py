"""Benchmark-only settings: the product's settings plus a bare-insert view (bench/urls.py).

Never used by the product or the tests; `bench/harness.py` points gunicorn at it so the
baseline view runs in the same server, with the same middleware, as the webhook intake.
"""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
