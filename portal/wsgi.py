"""The web app's WSGI entry point (gunicorn `portal.wsgi`).

Everything loaded here lives as long as the process, so it is frozen out of the garbage
collector's sight (portal/long_lived.py): otherwise every full collection walks those ~120,000
objects again, ≈ 50 ms on this project's 2-core machine and ~100 ms when it lands in a request —
the partner API's slowest percent (BENCHMARKS.md, "Partner API list at 100,000 contacts").
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from portal.long_lived import freeze_loaded_app

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()
# The URLconf and every view module it names, now rather than in the first request, so they
# are frozen with the rest.
get_resolver().url_patterns  # noqa: B018
freeze_loaded_app()
