from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from portal.views import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("sync.urls")),
    # The portal has no public site: its front door is the operator console.
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
