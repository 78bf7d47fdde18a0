from django.urls import path

from sync.webhooks import views
from sync.webhooks.email_status import EmailStatusWebhookView

urlpatterns = [
    path("highlevel/", views.HighLevelWebhookView.as_view(), name="webhooks-highlevel"),
    path("in/<slug:slug>/", views.PartnerWebhookView.as_view(), name="webhooks-partner"),
    path(
        "email/<slug:slug>/<str:token>/",
        EmailStatusWebhookView.as_view(),
        name="webhooks-email-status",
    ),
]
