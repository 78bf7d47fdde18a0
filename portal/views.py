"""/healthz: is this process able to serve, and is a worker alive to do the background work?"""

import time

from django.db import connection
from django.http import HttpRequest, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.brokers import get_broker
from django_q.status import Stat


def _check_database() -> dict:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_broker() -> dict:
    broker = get_broker()
    return {"ok": bool(broker.ping()), "broker": broker.info()}


def _check_worker() -> dict:
    # Each running qcluster refreshes its stat every few seconds; it expires when none runs.
    clusters = Stat.get_all(get_broker())
    return {
        "ok": bool(clusters),
        "clusters": [{"id": str(c.cluster_id), "status": c.status} for c in clusters],
    }


def _run(check) -> dict:
    try:
        return check()
    except Exception as exc:  # a failing dependency is the answer, not an error of ours
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": _run(_check_database),
        "broker": _run(_check_broker),
        "worker": _run(_check_worker),
    }
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask /favicon.ico whatever the page says: send them to the static icon."""
    return HttpResponsePermanentRedirect(static("portal/favicon.svg"))
