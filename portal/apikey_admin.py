"""Admin for partner API keys: create, edit, rotate and revoke, every change audited.

A new secret is rendered straight into the response page (never put in messages, the session
or a cookie), so it is shown once and stored nowhere.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from portal.admin_base import AuditedModelAdmin, operator
from portal.admin_scoping import WorkspaceScopedAdmin
from portal.apikeys import apikey_create, apikey_revoke_chain, apikey_rotate
from portal.audit import field_changes, record_change
from portal.models import ApiKey, ApiKeyScope, AuditAction

ROTATION_GRACE = datetime.timedelta(hours=24)
_EDITABLE = ("name", "scopes", "expires_at")


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiKeyScope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "workspaces", "expires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(WorkspaceScopedAdmin, AuditedModelAdmin):
    workspace_path = "workspaces"  # a key is an operator's only if all its workspaces are
    form = ApiKeyForm
    list_display = ("name", "token_prefix", "state", "scope_list", "expires_at", "last_used_at")
    list_filter = ("workspaces",)
    search_fields = ("name", "=prefix")
    filter_horizontal = ("workspaces",)
    readonly_fields = (
        "token_prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
        "superseded_at",
        "rotated_from",
    )
    actions = ["rotate_keys", "revoke_keys"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # revoke instead: audit rows keep pointing at a key that exists

    @admin.display(description="prefix")
    def token_prefix(self, key: ApiKey) -> str:
        return f"psk_{key.prefix}…" if key.prefix else "-"

    @admin.display(description="state")
    def state(self, key: ApiKey) -> str:
        if key.revoked_at:
            return "revoked"
        if not key.is_usable(timezone.now()):
            return "expired"
        return "rotated (grace)" if key.superseded_at else "usable"

    @admin.display(description="scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(key.scopes)

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        if change:
            names = [name for name in form.changed_data if name in _EDITABLE]
            before = ApiKey.objects.get(pk=obj.pk)
            request._apikey_changes = field_changes(before, {n: getattr(obj, n) for n in names})
            obj.save()
            return
        key, token = apikey_create(
            name=obj.name,
            scopes=obj.scopes,
            workspaces=form.cleaned_data["workspaces"],
            actor=operator(request),
            expires_at=obj.expires_at,
            created_by=request.user,
        )
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(key, field.attname))
        obj._state.adding = False
        request._new_tokens = [(key, token)]

    def save_related(self, request, form, formsets, change: bool) -> None:
        if not change:
            return  # apikey_create set the workspaces and audited them
        key = form.instance
        before = sorted(key.workspaces.values_list("slug", flat=True))
        super().save_related(request, form, formsets, change)
        after = sorted(key.workspaces.values_list("slug", flat=True))
        changes = dict(getattr(request, "_apikey_changes", {}))
        if before != after:
            changes["workspaces"] = [before, after]
        if changes:
            record_change(
                actor=operator(request), action=AuditAction.UPDATE, instance=key, changes=changes
            )

    def response_add(self, request, obj, post_url_continue=None) -> HttpResponse:
        return self._show_tokens(request, "created")

    @admin.action(description="Rotate selected keys (old ones work 24 more hours)")
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        current = queryset.filter(superseded_at=None, revoked_at=None)
        with transaction.atomic():
            request._new_tokens = [
                apikey_rotate(name=key.name, grace=ROTATION_GRACE, actor=operator(request))
                for key in current
            ]
        if not request._new_tokens:
            self.message_user(request, "No current key selected (revoked or rotated already).")
            return None
        return self._show_tokens(request, "rotated")

    @admin.action(description="Revoke selected keys now (with their rotation chains)")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = operator(request)
        revoked = sum(apikey_revoke_chain(key=key, actor=actor) for key in queryset)
        self.message_user(request, f"Revoked {revoked} key(s).")

    def _show_tokens(self, request: HttpRequest, verb: str) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": f"API key {verb}: copy the secret now",
            "tokens": request._new_tokens,
            "grace_hours": int(ROTATION_GRACE.total_seconds() // 3600) if verb == "rotated" else 0,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/portal/apikey/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response
