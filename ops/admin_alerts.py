"""Alerts in the admin: the channels of each workspace, and every alert sent (read-only)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from ops.alert_channels import check_channel_target
from ops.models import AlertChannel, AlertNotice
from portal.admin_base import AuditedModelAdmin
from sync.transport.standard_webhooks import new_secret


class AlertChannelForm(forms.ModelForm):
    class Meta:
        model = AlertChannel
        fields = ("workspace", "name", "kind", "target", "active")

    def clean(self):
        cleaned = super().clean()
        kind, target = cleaned.get("kind"), cleaned.get("target")
        if kind and target:
            try:
                check_channel_target(kind, target)
            except (ValueError, ValidationError) as exc:
                message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
                self.add_error("target", message)
        return cleaned


@admin.register(AlertChannel)
class AlertChannelAdmin(AuditedModelAdmin):
    form = AlertChannelForm
    list_display = ("name", "workspace", "kind", "target", "active", "last_sent_at", "last_error")
    list_filter = ("kind", "active", "workspace")
    readonly_fields = ("last_sent_at", "last_error")

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).defer("credentials")

    def save_model(self, request: HttpRequest, obj: AlertChannel, form, change: bool) -> None:
        secret = ""
        if obj.kind == AlertChannel.Kind.SIGNED and not (obj.credentials or {}).get("secret"):
            secret = new_secret()
            obj.credentials = {"secret": secret}
        super().save_model(request, obj, form, change)
        if secret:
            self.message_user(
                request,
                f"Signing secret of {obj.name} (shown once; the receiver verifies "
                f"webhook-signature with it): {secret}",
                messages.WARNING,
            )


@admin.register(AlertNotice)
class AlertNoticeAdmin(admin.ModelAdmin):
    list_display = ("title", "rule", "subject", "last_sent_at", "times_sent", "first_sent_at")
    list_filter = ("rule",)
    search_fields = ("title", "subject")
    readonly_fields = ("rule", "subject", "workspaces", "title", "message", "first_sent_at",
                       "last_sent_at", "times_sent")  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
