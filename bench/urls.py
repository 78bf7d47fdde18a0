"""The product's URLs plus `POST /bench/bare-insert/`: a Django view that inserts one row.

It is the intake benchmark's baseline (what any Django view writing one row costs on this
server), so the intake figure can be read as a ratio. The table is created by the harness.
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
    path("", include("portal.urls")),
]
