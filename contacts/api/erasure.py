"""POST /api/v1/contacts/{id}/erase: erase a contact's personal data (scope `contacts.erase`).

Its own scope, not implied by `contacts.write`: a key that edits contacts cannot erase them.
Erasing an erased contact again changes nothing and answers the same.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.api.serializers import ContactOutput
from contacts.api.views import _public_id, api_actor
from contacts.api.workspaces import visible_workspace_ids
from contacts.erasure import contact_erase
from contacts.models import Contact
from portal.openapi import WRITE_ERRORS, error_responses


class ContactEraseView(APIView):
    scope_resource = "contacts"
    method_scopes = {"POST": "contacts.erase"}

    @extend_schema(
        operation_id="contacts_erase",
        request=None,
        responses={200: ContactOutput, **error_responses(*WRITE_ERRORS, 404)},
        description=(
            "Erase the contact's personal data (right to erasure): the portal keeps a tombstone "
            "without personal data and deletes the contact at every connected system. "
            "Cannot be undone."
        ),
    )
    def post(self, request: Request, contact_id: str) -> Response:
        contacts = Contact.objects.filter(workspace__in=visible_workspace_ids(request))
        contact = get_object_or_404(contacts, public_id=_public_id(contact_id))
        return Response(ContactOutput(contact_erase(contact, actor=api_actor(request))).data)
