from django.urls import path

from sync.webhooks import views

urlpatterns = [
    path("highlevel/", views.HighLevelWebhookView.as_view(), name="webhooks-highlevel"),
    path("in/<slug:slug>/", views.PartnerWebhookView.as_view(), name="webhooks-partner"),
]
