"""The CRM's OAuth pages (included by sync/urls.py through the connector registry)."""

from django.urls import path

from sync.connectors.highlevel import views

urlpatterns = [
    path("oauth/highlevel/callback", views.highlevel_callback, name="highlevel-oauth-callback"),
    path(
        "oauth/highlevel/install/<slug:slug>",
        views.highlevel_install,
        name="highlevel-oauth-install",
    ),
]
