"""The schema is the contract: schemathesis fuzzes the live API from /api/schema/ with every
check, on whichever database the suite runs on (SQLite, or PostgreSQL in CI).

Bounded (a few examples per operation, a fixed seed) so it stays within a couple of minutes on
a slow machine. positive_data_acceptance allows the statuses of rules a JSON Schema cannot
state (a phone the numbering plan refuses, a duplicate e-mail, an object that does not exist,
a write refused by the write path): tests/contacts/api/schemathesis.toml.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 5
SEED = 16


@pytest.fixture
def unthrottled(settings):
    # The fuzzer sends thousands of requests a minute, many without a key (ignored_auth).
    settings.API_RATE_LIMIT = "1000000/minute"
    settings.API_ANON_RATE_LIMIT = "1000000/minute"


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_failure_with_every_check(
    live_server, api_key, workspace, unthrottled, tmp_path
):
    ContactFactory(workspace=workspace)  # something to list
    ConnectionFactory(workspace=workspace, dry_run=True)  # workflows and imports: no network
    _key, token = api_key
    command = [
        str(Path(sys.executable).with_name("st")),
        f"--config-file={CONFIG}",
        "--no-color",
        "run",
        f"{live_server.url}/api/schema/",
        "--checks=all",
        # Deletes are tombstones by design: a deleted object stays readable by its id (with
        # `deleted_at`), and so do a deleted contact's tasks, notes and appointments, so that a
        # partner's sync learns of the delete. "A deleted resource answers 404" (ST301) does not
        # hold for such an API; tombstones have their own tests in tests/contacts/api/.
        "--exclude-checks=use_after_free",
        f"--header=Authorization: Bearer {token}",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",
        "--generation-database=none",
        "--output-sanitize=true",
        f"--report-dir={tmp_path}",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    run = subprocess.run(  # its cache directory goes to tmp_path, not the checkout
        command, capture_output=True, text=True, timeout=600, env=env, check=False, cwd=tmp_path
    )
    Path("test-artifacts").mkdir(exist_ok=True)
    Path("test-artifacts/schemathesis.txt").write_text(run.stdout)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:]
    for phase in ("Coverage", "Fuzzing", "Stateful"):  # each ran (not skipped) and passed
        assert re.search(rf"✅ +{phase} \(in", run.stdout), (phase, run.stdout[-5000:])
