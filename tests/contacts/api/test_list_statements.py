"""A list page reads the mirror in three statements whatever its size: its contacts (what it
shows of their workspace and assigned user joined in), their links and their newest pushes
(each with its connection joined in) — no statement per contact, tag or connection."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sync.models import Link
from tests.factories import ContactFactory, CrmUserFactory
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("size", [5, 100])
def test_a_page_reads_the_mirror_in_three_statements(api, workspace, size):
    crm = ConnectionFactory(workspace=workspace, slug="crm")
    ConnectionFactory(workspace=workspace, slug="crm-b", company_id="comp-b")
    user = CrmUserFactory(workspace=workspace)
    contacts = [
        ContactFactory(workspace=workspace, assigned_user=user, tags=["vip", f"tag-{n}"])
        for n in range(size)
    ]
    Link.objects.bulk_create(
        Link(connection=crm, object_type="contact", object_id=contact.pk, remote_id=f"R{n}")
        for n, contact in enumerate(contacts)
    )
    with CaptureQueriesContext(connection) as queries:
        page = api.get("/api/v1/contacts/?limit=100").json()["results"]
    mirror = [q["sql"] for q in queries if '"contacts_' in q["sql"] or '"sync_' in q["sql"]]
    assert len(mirror) == 3, mirror
    assert len(page) == size
    for row in page:
        assert row["workspace"] == workspace.slug and row["assigned_user"] == user.public_id
        assert {state["connection"] for state in row["sync"]} == {"crm", "crm-b"}
        assert row["tags"][0] == "vip"
