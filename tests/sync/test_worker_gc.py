"""A worker process freezes the loaded app out of the garbage collector's sight once spawned
(portal/long_lived.py): its full collections walk what its batches left, not the whole app."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import gc, json, sys
import django
django.setup()
from django_q.signals import post_spawn
before = gc.get_freeze_count()
post_spawn.send(sender="django_q", proc_name="Process-1")
print(json.dumps({
    "before": before,
    "frozen": gc.get_freeze_count(),
    "tracked": len(gc.get_objects()),
    "tasks_loaded": "sync.tasks" in sys.modules and "sync.inbound.tasks" in sys.modules,
}))
"""


def test_a_spawned_worker_freezes_the_loaded_app_with_its_task_modules():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["before"] == 0 and probe["tasks_loaded"]
    assert probe["frozen"] > 50_000 and probe["tracked"] < probe["frozen"] // 20, probe
