"""The served app's objects are frozen out of the garbage collector's sight (portal/wsgi.py):
a full collection in a web process walks what requests left, not the ~100,000 objects of the
loaded app, which made the partner API's slowest percent (BENCHMARKS.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import gc, json, sys
import portal.wsgi
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "tracked": len(gc.get_objects()),
    "views_loaded": "contacts.api.views" in sys.modules,
}))
"""


def test_the_loaded_app_is_frozen_with_its_views():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    # The views are imported before the freeze, not by the first request after it.
    assert probe["views_loaded"]
    # What a full collection still walks is a small fraction of what was loaded.
    assert probe["frozen"] > 50_000 and probe["tracked"] < probe["frozen"] // 20, probe
