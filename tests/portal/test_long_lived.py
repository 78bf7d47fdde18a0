"""Long-lived processes freeze the loaded app out of the garbage collector's sight
(portal/long_lived.py): a full collection walks what requests or batches left, not the ~100,000
objects of the loaded app. Web processes freeze at load (portal/wsgi.py: its full collections
made the partner API's slowest percent, BENCHMARKS.md), django-q2 workers once spawned."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORT = """
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "tracked": len(gc.get_objects()),
    "views_loaded": "contacts.api.views" in sys.modules,
    "tasks_loaded": "sync.tasks" in sys.modules and "sync.inbound.tasks" in sys.modules,
}))
"""


def probe(setup: str) -> dict:
    """Run `setup` in a fresh interpreter; what its garbage collector then sees."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    code = "import gc, json, sys\n" + setup + REPORT
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def mostly_frozen(seen: dict) -> bool:
    """What a full collection still walks is a small fraction of what was loaded."""
    return seen["frozen"] > 50_000 and seen["tracked"] < seen["frozen"] // 20


def test_the_web_app_is_frozen_with_its_views():
    seen = probe("import portal.wsgi\n")
    # The views are imported before the freeze, not by the first request after it.
    assert seen["views_loaded"]
    assert mostly_frozen(seen), seen


def test_a_spawned_worker_freezes_the_loaded_app_with_its_task_modules():
    setup = """
import django
django.setup()
from django_q.signals import post_spawn
assert gc.get_freeze_count() == 0
post_spawn.send(sender="django_q", proc_name="Process-1")
"""
    seen = probe(setup)
    assert seen["tasks_loaded"]
    assert mostly_frozen(seen), seen
