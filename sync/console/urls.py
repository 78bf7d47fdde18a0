"""A mirror record's timeline, at /admin/contacts/<model>/<pk>/timeline/ beside its change
page, so the admin's sidebar highlights the record's own model (portal/urls.py puts this
before the admin's URLs, whose catch-all would take the path)."""

from django.contrib import admin
from django.urls import path

from sync.console.views import timeline_view

urlpatterns = [
    path("<str:model_name>/<int:pk>/timeline/", admin.site.admin_view(timeline_view),
         name="record_timeline"),
]  # fmt: skip
