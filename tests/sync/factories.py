"""Sync test data: connections (credentials encrypted like real ones), mappings, rules."""

import factory

from sync.models import Connection, FieldMapping, Rule
from tests.factories import WorkspaceFactory

CRM_BASE_URL = "https://services.leadconnectorhq.com"


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection

    workspace = factory.SubFactory(WorkspaceFactory)
    provider = "highlevel"
    name = factory.Sequence(lambda n: f"CRM {n}")
    slug = factory.Sequence(lambda n: f"crm-{n}")
    base_url = CRM_BASE_URL
    credentials = factory.LazyFunction(lambda: {"token": "pit-test-secret-token-0001"})
    location_id = factory.SelfAttribute("workspace.location_id")
    scopes = "contacts.readonly contacts.write users.readonly users.write workflows.readonly"


class FieldMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FieldMapping

    connection = factory.SubFactory(ConnectionFactory)
    object_type = "contact"


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rule

    connection = factory.SubFactory(ConnectionFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")
    object_type = "contact"
    conditions = factory.LazyFunction(dict)
