"""The product's URLs plus a Django view that inserts one row, at two paths:

    POST /bench/bare-insert/             through MIDDLEWARE, as every page and API view
    POST /webhooks/bench-bare-insert/    through WEBHOOK_MIDDLEWARE, as the deliveries

It is the intake benchmark's baseline (what any Django view writing one row costs on this
server), so the intake figure can be read as a ratio; the second path says how much of that
ratio is the deliveries' leaner middleware. The table is created by the harness.
"""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

BARE_TABLE = "bench_bare_insert"


@csrf_exempt
def bare_insert(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        sql = f"INSERT INTO {BARE_TABLE} (body) VALUES (%s)"  # noqa: S608 - a constant name
        cursor.execute(sql, [request.body.decode()])
    return JsonResponse({"ok": True})


urlpatterns = [
    path("bench/bare-insert/", bare_insert),
    path("webhooks/bench-bare-insert/", bare_insert),
    path("", include("portal.urls")),
]
