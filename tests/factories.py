"""Test data. Mirror factories write through the services, like every other writer."""

import datetime

import factory
from django.utils import timezone

from contacts import models as mirror
from contacts.services import mirror_create
from portal.actors import Actor
from portal.models import Workspace

TEST_ACTOR = Actor.system("tests", source="tests")


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")
    location_id = factory.Sequence(lambda n: f"loc{n:06d}")


class MirrorFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    workspace = factory.SubFactory(WorkspaceFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        workspace = kwargs.pop("workspace")
        source_updated_at = kwargs.pop("source_updated_at", None)
        return mirror_create(
            model_class,
            workspace=workspace,
            actor=TEST_ACTOR,
            data=kwargs,
            source_updated_at=source_updated_at,
        )


class CrmUserFactory(MirrorFactory):
    class Meta:
        model = mirror.CrmUser

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"user{n}@example.com")


class ContactFactory(MirrorFactory):
    class Meta:
        model = mirror.Contact

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")


class TaskFactory(MirrorFactory):
    class Meta:
        model = mirror.Task

    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))
    title = factory.Sequence(lambda n: f"Task {n}")
    due_date = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=1))


class NoteFactory(MirrorFactory):
    class Meta:
        model = mirror.Note

    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))
    body = factory.Faker("sentence")


class AppointmentFactory(MirrorFactory):
    class Meta:
        model = mirror.Appointment

    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))
    calendar_id = "cal000000000000000001"
    title = "Intro call"
    start_time = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=2))
