from django.urls import include, path

from sync import views, views_catalog

app_name = "sync"
urlpatterns = [
    path("api/v1/catalog/", views_catalog.catalog_view, name="catalog"),
    path("oauth/highlevel/callback", views.highlevel_callback, name="highlevel-oauth-callback"),
    path(
        "oauth/highlevel/install/<slug:slug>",
        views.highlevel_install,
        name="highlevel-oauth-install",
    ),
    path("webhooks/", include("sync.webhooks.urls")),
]
