"""portal/access.py: who reaches which workspace, from the memberships."""

import pytest
from django.db import IntegrityError, transaction

from portal.access import workspace_access
from portal.models import Workspace, WorkspaceMembership, WorkspaceRole
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(db):
    return WorkspaceFactory(name="One"), WorkspaceFactory(name="Two")


def staff(django_user_model, name, *memberships):
    user = django_user_model.objects.create_user(name, is_staff=True)
    for workspace, role in memberships:
        WorkspaceMembership.objects.create(user=user, workspace=workspace, role=role)
    return user


def test_roles_decide_view_and_change_per_workspace(django_user_model, two):
    one, other = two
    user = staff(
        django_user_model, "u", (one, WorkspaceRole.OPERATOR), (other, WorkspaceRole.VIEWER)
    )
    access = workspace_access(user)
    assert access.may_change([one.pk]) and not access.may_change([other.pk])
    assert access.may_view([one.pk, other.pk])
    assert not access.may_view([None])  # rows of no workspace: agency level
    assert list(access.visible(Workspace.objects.order_by("pk"), "id")) == [one, other]
    assert list(access.changeable_rows(Workspace.objects.all(), "id")) == [one]


def test_agency_admins_and_superusers_reach_everything(django_user_model, two):
    agency = django_user_model.objects.create_user("agency", is_staff=True)
    WorkspaceMembership.objects.create(user=agency, role=WorkspaceRole.AGENCY_ADMIN)
    root = django_user_model.objects.create_superuser("root", "r@example.com", "pw")
    for user in (agency, root):
        access = workspace_access(user)
        assert access.everything and access.may_change([None])


def test_inactive_or_non_staff_users_reach_nothing(django_user_model, two):
    one, _ = two
    former = staff(django_user_model, "former", (one, WorkspaceRole.OPERATOR))
    former.is_active = False
    assert not workspace_access(former).may_view([one.pk])


def test_an_agency_admin_names_no_workspace_and_others_need_one(django_user_model, two):
    user = django_user_model.objects.create_user("x", is_staff=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkspaceMembership.objects.create(
            user=user, workspace=two[0], role=WorkspaceRole.AGENCY_ADMIN
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkspaceMembership.objects.create(user=user, role=WorkspaceRole.VIEWER)
