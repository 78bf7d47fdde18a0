from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal import openapi  # noqa: F401  (registers the bearer scheme with drf-spectacular)
from portal.api_errors import api_not_found
from portal.dashboard import dashboard_view
from portal.views import favicon, healthz

urlpatterns = [
    # First: the webhook endpoints are resolved for every delivery, the console's pages for a
    # person's clicks (sync's URLs share no prefix with the ones below).
    path("", include("sync.urls")),
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="dashboard"),
    # sync's page per mirror record (by name: portal imports neither app)
    path("admin/contacts/", include("sync.console.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("api/v1/", include("contacts.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^(?:api|webhooks)/", api_not_found),
    # The portal has no public site: its front door is the operator console.
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
