from importlib import import_module

from django.urls import include, path

from sync import partner_api, views_catalog
from sync.connectors import connector_classes

app_name = "sync"
urlpatterns = [
    path("webhooks/", include("sync.inbound.urls")),  # first: resolved for every delivery
    path("api/v1/catalog/", views_catalog.catalog_view, name="catalog"),
    path("api/v1/workflows/", partner_api.workflow_list_view, name="workflows"),
    path("api/v1/courses/import", partner_api.courses_import_view, name="courses-import"),
    path(
        "api/v1/courses/import/<str:import_id>",
        partner_api.courses_import_status_view,
        name="courses-import-status",
    ),
    # A connector's own pages (e.g. the CRM's OAuth install and callback).
    *(
        pattern
        for cls in connector_classes()
        if cls.urls_module
        for pattern in import_module(cls.urls_module).urlpatterns
    ),
]
