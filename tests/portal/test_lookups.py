"""`__any_of`: the rows of `__in`, with the values as one parameter on PostgreSQL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def emails(queryset) -> list[str]:
    return sorted(queryset.values_list("email_key", flat=True))


def test_any_of_finds_the_rows_in_finds(workspace):
    for n in range(5):
        ContactFactory(workspace=workspace, email=f"p{n}@example.com")
    wanted = ["p1@example.com", "p3@example.com", "p3@example.com", "nobody@example.com", None]
    found = Contact.objects.filter(workspace=workspace, email_key__any_of=wanted)
    assert emails(found) == ["p1@example.com", "p3@example.com"]
    assert emails(found) == emails(Contact.objects.filter(email_key__in=wanted))
    excluded = Contact.objects.filter(workspace=workspace).exclude(email_key__any_of=wanted)
    assert emails(excluded) == ["p0@example.com", "p2@example.com", "p4@example.com"]


def test_any_of_nothing_runs_no_query(workspace):
    ContactFactory(workspace=workspace, email="p@example.com")
    with CaptureQueriesContext(connection) as queries:
        assert list(Contact.objects.filter(email_key__any_of=[])) == []
        assert list(Contact.objects.filter(email_key__any_of=[None])) == []
    assert len(queries) == 0


def test_on_postgresql_the_values_are_one_array_parameter(workspace):
    wanted = [f"p{n}@example.com" for n in range(100)]
    query = Contact.objects.filter(workspace=workspace, email_key__any_of=wanted).query
    sql, params = query.sql_with_params()
    if connection.vendor == "postgresql":
        assert "= ANY(%s)" in sql
        assert len(params) == 2 and wanted in params and workspace.pk in params
    else:
        assert " IN (" in sql
        assert sorted(params, key=str) == sorted([workspace.pk, *wanted], key=str)
