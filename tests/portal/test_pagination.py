import pytest
from django.db import connection

from contacts.models import Contact
from portal import pagination
from portal.pagination import EstimatedCountPaginator
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_filtered_lists_are_counted_exactly(workspace):
    ContactFactory.create_batch(3, workspace=workspace, dnd=True)
    ContactFactory.create_batch(2, workspace=workspace)
    paginator = EstimatedCountPaginator(Contact.objects.filter(dnd=True).order_by("id"), 50)
    assert paginator.count == 3


def test_unfiltered_large_table_uses_the_planner_estimate(workspace, monkeypatch):
    ContactFactory.create_batch(5, workspace=workspace)
    monkeypatch.setattr(pagination, "ESTIMATE_ABOVE_ROWS", 0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Contact._meta.db_table}")
    paginator = EstimatedCountPaginator(Contact.objects.order_by("id"), 50)
    expected = pagination.estimated_row_count(Contact, "default")
    # SQLite has no estimate: it counts. PostgreSQL answers from pg_class without a count.
    assert paginator.count == (5 if connection.vendor == "sqlite" else expected)
    assert paginator.count > 0
