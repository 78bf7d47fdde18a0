"""The admin action "Erase personal data": a confirmation page, then contacts.erasure."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from contacts.erasure import contact_erase
from portal.admin_base import operator


@admin.action(description="Erase personal data (right to erasure; cannot be undone)",
              permissions=["delete"])  # fmt: skip
def erase_personal_data(modeladmin, request: HttpRequest, queryset: QuerySet):
    if request.POST.get("confirm") != "yes":
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": "Erase personal data?",
            "contacts": queryset,
            "opts": modeladmin.model._meta,
            "action": request.POST.get("action"),
        }
        return TemplateResponse(request, "admin/contacts/erase_confirm.html", context)
    erased = [contact_erase(contact, actor=operator(request)) for contact in queryset]
    modeladmin.message_user(
        request,
        f"Erased {len(erased)} contact(s): their personal data is gone from the portal and a "
        "delete is queued for every connection holding them.",
        messages.SUCCESS,
    )
    return None
