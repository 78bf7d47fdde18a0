"""Partner API views: each validates its input and calls one service of contacts.services."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError
from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from contacts import services
from contacts.api import serializers as s
from contacts.api.conditional import if_match_versions, precondition_checked, with_etag
from contacts.api.filters import MirrorFilterBackend
from contacts.api.pagination import KeysetPagination
from contacts.api.schema import document_mirror
from contacts.api.workspaces import target_workspace, visible_workspace_ids
from contacts.models import Appointment, Contact, CrmUser, MirrorModel, Note, Task
from contacts.privileged import privileged_user_changes
from portal.actors import Actor
from portal.api_errors import Conflict
from portal.authentication import MissingScope
from portal.idempotency import idempotent
from portal.models import ApiKeyScope, Workspace

logger = logging.getLogger(__name__)
SYNC_FILTERS = ("updated_since", "include_deleted")
_PUBLIC_ID = re.compile(r"^[a-z]{2}_[A-Za-z0-9]{1,29}$")


class ObjectDeleted(Conflict):
    default_detail = "This object is deleted; it cannot change any more."
    default_code = "deleted"


class DuplicateValue(Conflict):
    default_detail = "Another object already has this external_id."
    default_code = "duplicate"

    def __init__(self, detail: str | None = None, details: dict | None = None) -> None:
        super().__init__(detail)
        self.details = details


def _public_id(value: str) -> str:
    """A path segment that cannot be a public id is a 404 before it reaches the database."""
    if not _PUBLIC_ID.match(value):
        raise Http404
    return value


def api_actor(request: Request) -> Actor:
    return Actor.api_key(request.auth, request_id=getattr(request, "request_id", ""))


class MirrorViewSet(viewsets.GenericViewSet):
    """list, retrieve, create, update (PUT replaces, PATCH merges) and delete (a tombstone)."""

    model: type[MirrorModel]
    scope_resource: str
    input_serializer: type[s.StrictInputSerializer]
    output_serializer: type[Serializer]
    create_service: Callable[..., MirrorModel]
    filter_names: tuple[str, ...] = SYNC_FILTERS
    filter_backends = [MirrorFilterBackend]
    pagination_class = KeysetPagination
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_converter = "str"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no key
            return self.model.objects.none()
        fields = self.model._meta.concrete_fields
        related = [f.name for f in fields if f.is_relation]
        queryset = self.model.objects.filter(
            workspace__in=visible_workspace_ids(self.request)
        ).select_related(*related)
        if self.action == "list":
            # Whole related rows, repeated on every row of a page, cost more CPU than the
            # page's own rows; a page shows each by one column.
            shown = [_shown_column(name) for name in related]
            queryset = queryset.only(*(f.name for f in fields), *shown)
        return queryset

    def get_serializer_class(self) -> type[Serializer]:
        if self.action in ("create", "update", "partial_update"):
            return self.input_serializer
        return self.output_serializer

    def get_object(self) -> MirrorModel:
        # No list filters here: a deleted object is still readable by its id.
        return get_object_or_404(self.get_queryset(), public_id=_public_id(self.kwargs["id"]))

    def list(self, request: Request, **kwargs: str) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        # Converted without binding the page to a serializer: DRF's serializers refer to their
        # fields and back (a reference cycle), so a page held by one waited for the cyclic
        # garbage collector; this way its objects are freed as soon as they are converted.
        rows = self.output_serializer(many=True).to_representation(page)
        return self.get_paginated_response(rows)

    def retrieve(self, request: Request, id: str) -> Response:
        obj = self.get_object()
        return with_etag(Response(self.output_serializer(obj).data), obj)

    def create(self, request: Request, **kwargs: str) -> Response:
        workspace = self.create_workspace(request)
        return idempotent(request, workspace, lambda: self._create(request, workspace))

    def create_workspace(self, request: Request) -> Workspace:
        return target_workspace(request)

    def _create(self, request: Request, workspace: Workspace) -> Response:
        data = self._validated(request.data, workspace)
        self.check_write(request, None, data)
        with _duplicates_as_conflict():
            obj = type(self).create_service(
                workspace=workspace, actor=api_actor(request), data=data
            )
        return _created(self.output_serializer, obj)

    def update(self, request: Request, id: str) -> Response:
        return self._update(request, partial=False)

    def partial_update(self, request: Request, id: str) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        obj = self.get_object()
        if obj.is_deleted:
            raise ObjectDeleted()
        serializer = self.input_serializer(
            data=request.data, partial=partial, context={"workspace": obj.workspace}
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data if partial else serializer.full_state()
        self.check_write(request, obj, data)
        with _duplicates_as_conflict(), precondition_checked():
            obj, _changed = services.mirror_update(
                obj, actor=api_actor(request), data=data, if_version=if_match_versions(request)
            )
        return with_etag(Response(self.output_serializer(obj).data), obj)

    def check_write(self, request: Request, instance: MirrorModel | None, data: dict) -> None:
        """Refuse a write this key may not make (beyond its scope); nothing by default."""

    def destroy(self, request: Request, id: str) -> Response:
        with precondition_checked():
            services.mirror_delete(
                self.get_object(), actor=api_actor(request), if_version=if_match_versions(request)
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _validated(self, data: Any, workspace, serializer=None) -> dict[str, Any]:
        serializer = (serializer or self.input_serializer)(
            data=data, context={"workspace": workspace}
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


def _shown_column(relation: str) -> str:
    """What an output shows of a related object: a workspace's slug, a mirror object's id."""
    return f"{relation}__slug" if relation == "workspace" else f"{relation}__public_id"


def _created(output_serializer: type[Serializer], obj: MirrorModel) -> Response:
    response = Response(output_serializer(obj).data, status=status.HTTP_201_CREATED)
    return with_etag(response, obj)


@contextmanager
def _duplicates_as_conflict() -> Iterator[None]:
    """Unique external ids and e-mails can only be checked by the database (writers race)."""
    try:
        yield
    except services.DuplicateEmail as exc:
        details = {**exc.message_dict, "existing_id": exc.existing_id}
        raise DuplicateValue(services.DUPLICATE_EMAIL, details) from exc
    except IntegrityError as exc:
        raise DuplicateValue() from exc


@document_mirror("user", s.UserInput, s.UserOutput)
class UserViewSet(MirrorViewSet):
    model = CrmUser
    scope_resource = "users"
    input_serializer = s.UserInput
    output_serializer = s.UserOutput
    create_service = staticmethod(services.user_create)
    filter_names = (*SYNC_FILTERS, "email")

    def check_write(self, request: Request, instance: MirrorModel | None, data: dict) -> None:
        """Role, type, permissions, locations and an existing user's e-mail need users.admin."""
        changes = privileged_user_changes(instance, data)
        if changes and not request.auth.has_scope(ApiKeyScope.USERS_ADMIN):
            logger.warning(
                "Refused: key psk_%s may not set %s of a user", request.auth.prefix, changes
            )
            raise MissingScope(ApiKeyScope.USERS_ADMIN, fields=changes)


@document_mirror("contact", s.ContactInput, s.ContactOutput)
class ContactViewSet(MirrorViewSet):
    model = Contact
    scope_resource = "contacts"
    input_serializer = s.ContactInput
    output_serializer = s.ContactOutput
    create_service = staticmethod(services.contact_create)
    filter_names = (*SYNC_FILTERS, "email", "tag", "business")


@document_mirror("task", s.TaskInput, s.TaskOutput)
class TaskViewSet(MirrorViewSet):
    model = Task
    scope_resource = "tasks"
    input_serializer = s.TaskInput
    output_serializer = s.TaskOutput
    create_service = staticmethod(services.task_create)
    filter_names = (*SYNC_FILTERS, "contact")


@document_mirror("note", s.NoteInput, s.NoteOutput)
class NoteViewSet(MirrorViewSet):
    model = Note
    scope_resource = "notes"
    input_serializer = s.NoteInput
    output_serializer = s.NoteOutput
    create_service = staticmethod(services.note_create)
    filter_names = (*SYNC_FILTERS, "contact")


@document_mirror("appointment", s.AppointmentInput, s.AppointmentOutput)
class AppointmentViewSet(MirrorViewSet):
    model = Appointment
    scope_resource = "appointments"
    input_serializer = s.AppointmentInput
    output_serializer = s.AppointmentOutput
    create_service = staticmethod(services.appointment_create)
    filter_names = (*SYNC_FILTERS, "contact")


class ContactChildViewSet(MirrorViewSet):
    """/contacts/{contact_id}/tasks|notes|appointments/: list and create for one contact."""

    nested_input_serializer: type[s.StrictInputSerializer]

    def contact(self) -> Contact:
        if not hasattr(self, "_contact"):
            contacts = Contact.objects.filter(workspace__in=visible_workspace_ids(self.request))
            public_id = _public_id(self.kwargs["contact_id"])
            self._contact = get_object_or_404(contacts, public_id=public_id)
        return self._contact

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return super().get_queryset().filter(contact=self.contact())

    def get_serializer_class(self) -> type[Serializer]:
        return self.nested_input_serializer if self.action == "create" else self.output_serializer

    def create_workspace(self, request: Request) -> Workspace:
        return self.contact().workspace

    def _create(self, request: Request, workspace: Workspace) -> Response:
        contact = self.contact()
        if contact.is_deleted:
            raise ObjectDeleted()
        data = self._validated(request.data, workspace, self.nested_input_serializer)
        obj = type(self).create_service(
            workspace=workspace, actor=api_actor(request), data={**data, "contact": contact}
        )
        return _created(self.output_serializer, obj)


@document_mirror("task", s.NestedTaskInput, s.TaskOutput, suffix=" of a contact")
class ContactTaskViewSet(ContactChildViewSet, TaskViewSet):
    nested_input_serializer = s.NestedTaskInput
    filter_names = SYNC_FILTERS


@document_mirror("note", s.NestedNoteInput, s.NoteOutput, suffix=" of a contact")
class ContactNoteViewSet(ContactChildViewSet, NoteViewSet):
    nested_input_serializer = s.NestedNoteInput
    filter_names = SYNC_FILTERS


@document_mirror(
    "appointment", s.NestedAppointmentInput, s.AppointmentOutput, suffix=" of a contact"
)
class ContactAppointmentViewSet(ContactChildViewSet, AppointmentViewSet):
    nested_input_serializer = s.NestedAppointmentInput
    filter_names = SYNC_FILTERS
