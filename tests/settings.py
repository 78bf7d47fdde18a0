"""Test settings: the real settings with fixed, test-only secrets; never reads a .env file.

DATABASE_URL and REDIS_URL from the environment still apply, so CI runs the same suite on
SQLite and on PostgreSQL + Redis.
"""

import os

os.environ["PORTAL_ENV_FILE"] = ""
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault(
    "FERNET_KEYS",
    "Xy8wN2s0T3R1c3Q5Y2xhcmF0ZXN0a2V5MDEyMzQ1Njc=,b2xkLXRlc3Qta2V5LTAxMjM0NTY3ODlhYmNkZWZnaGk=",
)

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory: concurrency tests (threads) need SQLite's real file
    # locking, as in production. One file per run, so parallel runs never collide.
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"portal-test-{os.getpid()}.sqlite3")
    }

# Tests assert what is enqueued when a change commits; the debounce (a timer thread that
# enqueues later) has its own tests, which set this themselves.
SYNC_PUSH_DEBOUNCE_SECONDS = 0
# Likewise every intake wakes the inbound workers at once (tests/sync/test_queue.py tests the
# interval with a timer it drives).
SYNC_WAKE_INTERVAL_SECONDS = 0

# Lease renewal runs in a thread of each worker process; tests call `keeper.cycle()` themselves
# (tests/sync/test_leases.py), so no thread writes to the test database behind a test's back.
SYNC_LEASE_RENEWAL = False
