from django.urls import include, path

from sync import views

app_name = "sync"
urlpatterns = [
    path("oauth/highlevel/callback", views.highlevel_callback, name="highlevel-oauth-callback"),
    path(
        "oauth/highlevel/install/<slug:slug>",
        views.highlevel_install,
        name="highlevel-oauth-install",
    ),
    path("webhooks/", include("sync.webhooks.urls")),
]
