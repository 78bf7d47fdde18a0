"""/api/v1/: the partner REST API."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from contacts.api import views  # schema: registers the bearer scheme
from contacts.api.bulk import ContactBulkView
from contacts.api.erasure import ContactEraseView

router = SimpleRouter(use_regex_path=False)
router.register("users", views.UserViewSet, basename="user")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("notes", views.NoteViewSet, basename="note")
router.register("appointments", views.AppointmentViewSet, basename="appointment")

_nested = {"get": "list", "post": "create"}

urlpatterns = [
    path("contacts/bulk/", ContactBulkView.as_view(), name="contact-bulk"),
    path("contacts/<str:contact_id>/erase", ContactEraseView.as_view(), name="contact-erase"),
    path(
        "contacts/<str:contact_id>/tasks/",
        views.ContactTaskViewSet.as_view(_nested),
        name="contact-tasks",
    ),
    path(
        "contacts/<str:contact_id>/notes/",
        views.ContactNoteViewSet.as_view(_nested),
        name="contact-notes",
    ),
    path(
        "contacts/<str:contact_id>/appointments/",
        views.ContactAppointmentViewSet.as_view(_nested),
        name="contact-appointments",
    ),
    *router.urls,
]
