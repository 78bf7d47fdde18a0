from django.urls import include, path

from sync import partner_api, views_catalog
from sync.connectors.highlevel import views

app_name = "sync"
urlpatterns = [
    path("api/v1/catalog/", views_catalog.catalog_view, name="catalog"),
    path("api/v1/workflows/", partner_api.workflow_list_view, name="workflows"),
    path("api/v1/courses/import", partner_api.courses_import_view, name="courses-import"),
    path(
        "api/v1/courses/import/<str:import_id>",
        partner_api.courses_import_status_view,
        name="courses-import-status",
    ),
    path("oauth/highlevel/callback", views.highlevel_callback, name="highlevel-oauth-callback"),
    path(
        "oauth/highlevel/install/<slug:slug>",
        views.highlevel_install,
        name="highlevel-oauth-install",
    ),
    path("webhooks/", include("sync.inbound.urls")),
]
