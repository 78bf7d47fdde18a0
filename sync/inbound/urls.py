from django.urls import path

from sync.inbound import views
from sync.inbound.email_status import EmailStatusWebhookView

urlpatterns = [
    path("highlevel/", views.HighLevelWebhookView.as_view(), name="webhooks-highlevel"),
    path("in/<slug:slug>/", views.PartnerWebhookView.as_view(), name="webhooks-partner"),
    path(
        "email/<slug:slug>/<str:token>/",
        EmailStatusWebhookView.as_view(),
        name="webhooks-email-status",
    ),
]
