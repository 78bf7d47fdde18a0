"""Two workspaces with a row of every workspace-owned kind each, and their staff users.

Workspace B's rows all carry the marker "Qzbeta" in a text a page would show, so a leak of any
of them into an operator of A's page is visible in its HTML.
"""

from dataclasses import dataclass

from django.contrib.auth.models import Permission
from django.utils import timezone

from ops.models import PushAllRun
from portal.apikeys import apikey_create
from portal.models import Workspace, WorkspaceMembership, WorkspaceRole
from sync.models import DeliveryAttempt, InboundEvent, Link, OutboundChange
from sync.models.automations import Automation, AutomationRun
from tests.factories import (
    TEST_ACTOR,
    AppointmentFactory,
    ContactFactory,
    CrmUserFactory,
    NoteFactory,
    TaskFactory,
    WorkspaceFactory,
)
from tests.sync.factories import ConnectionFactory, FieldMappingFactory, RuleFactory

A_MARK, B_MARK = "Qzalpha", "Qzbeta"
PASSWORD = "scoping-test-password"


@dataclass
class World:
    a: Workspace
    b: Workspace
    operator: object
    viewer: object
    nobody: object
    mixed: object  # operator of A, viewer of B


def populate(workspace: Workspace, mark: str) -> None:
    conn = ConnectionFactory(workspace=workspace, name=f"{mark} CRM", slug=f"{mark.lower()}-crm")
    FieldMappingFactory(connection=conn, mirror_field="first_name", remote_path="firstName")
    RuleFactory(connection=conn, name=f"{mark} rule")
    user = CrmUserFactory(workspace=workspace, first_name=mark, last_name="User")
    phone = "+15550100011" if mark == A_MARK else "+15550100022"
    contact = ContactFactory(workspace=workspace, first_name=mark, last_name="Contact",
                             email=f"{mark.lower()}@example.com", phone=phone)  # fmt: skip
    TaskFactory(workspace=workspace, contact=contact, title=f"{mark} task", assigned_user=user)
    NoteFactory(workspace=workspace, contact=contact, body=f"{mark} note")
    AppointmentFactory(workspace=workspace, contact=contact, title=f"{mark} call")
    change = OutboundChange.objects.filter(connection=conn).first()
    change.last_error = f"{mark} error"
    change.status = "dead"
    change.save()
    Link.objects.create(connection=conn, object_type="contact", object_id=contact.pk,
                        remote_id=f"{mark}-remote")  # fmt: skip
    DeliveryAttempt.objects.create(connection=conn, change=change, method="POST",
                                   path=f"/contacts/{mark}", outcome="permanent",
                                   status_code=422, error=f"{mark} refused")  # fmt: skip
    InboundEvent.objects.create(source="highlevel", source_key="highlevel", connection=conn,
                                workspace=workspace, event_type="ContactUpdate",
                                webhook_id=f"{mark}-hook", body="{}", object_type="contact",
                                remote_id=f"{mark}-remote", result=f"{mark} applied",
                                status="processed", received_at=timezone.now())  # fmt: skip
    apikey_create(name=f"{mark} key", scopes=["contacts.readonly"], workspaces=[workspace],
                  actor=TEST_ACTOR)  # fmt: skip
    automation = Automation.objects.create(
        workspace=workspace, name=f"{mark} automation", trigger="record_created",
        object_type="contact",
    )  # fmt: skip
    AutomationRun.objects.create(
        automation=automation, workspace=workspace, event_key=f"{mark}-event",
        event_label=f"{mark} run",
    )  # fmt: skip
    PushAllRun.objects.create(connection=conn, objects_requested=["contact"],
                              started_by=f"{mark} operator")  # fmt: skip


def staff_user(django_user_model, username: str, *memberships):
    """A staff user holding every model permission: only workspace access narrows them."""
    user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.all())
    for workspace, role in memberships:
        WorkspaceMembership.objects.create(user=user, workspace=workspace, role=role)
    return django_user_model.objects.get(pk=user.pk)  # fresh: no cached permissions


def build_world(django_user_model) -> World:
    a = WorkspaceFactory(name=f"{A_MARK} Shop", location_id="locAAAAAAAAAAAAAAAAA")
    b = WorkspaceFactory(name=f"{B_MARK} Shop", location_id="locBBBBBBBBBBBBBBBBB")
    populate(a, A_MARK)
    populate(b, B_MARK)
    return World(
        a=a,
        b=b,
        operator=staff_user(django_user_model, "op-a", (a, WorkspaceRole.OPERATOR)),
        viewer=staff_user(django_user_model, "viewer-a", (a, WorkspaceRole.VIEWER)),
        nobody=staff_user(django_user_model, "no-membership"),
        mixed=staff_user(
            django_user_model, "mixed", (a, WorkspaceRole.OPERATOR), (b, WorkspaceRole.VIEWER)
        ),
    )
