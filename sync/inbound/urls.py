from django.urls import path

from sync.connectors import webhook_receivers
from sync.inbound import views
from sync.inbound.email_status import EmailStatusWebhookView

# A provider's own endpoint per connector that declares one (the URL is promised to its users).
provider_endpoints = [
    path(
        f"{provider}/",
        views.ProviderWebhookView.as_view(provider=provider),
        name=f"webhooks-{provider}",
    )
    for provider in webhook_receivers()
]

urlpatterns = [
    *provider_endpoints,
    path("in/<slug:slug>/", views.PartnerWebhookView.as_view(), name="webhooks-partner"),
    path(
        "email/<slug:slug>/<str:token>/",
        EmailStatusWebhookView.as_view(),
        name="webhooks-email-status",
    ),
]
