"""A worker's batch of inbound events reads each connection's configuration once, and each
record it updates once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from sync.inbound.processing import claim_batch, process_batch
from sync.models import InboundStatus, OutboundChange
from tests.sync.factories import ConnectionFactory
from tests.sync.webhooks.conftest import example, post_crm

pytestmark = pytest.mark.django_db


def statements_on(queries: CaptureQueriesContext, table: str) -> int:
    return sum(f'FROM "{table}"' in q["sql"] for q in queries.captured_queries)


def deliver_creates(client, count: int) -> None:
    for number in range(count):
        body = example("ContactCreate", id=f"batch{number}", email=f"b{number}@example.com")
        assert post_crm(client, body).status_code == 200


def test_a_batch_reads_each_connections_configuration_once(client, crm_connection, workspace):
    ConnectionFactory(workspace=workspace, name="Partner", slug="partner")  # a fan-out target
    deliver_creates(client, 8)
    batch = claim_batch()
    with CaptureQueriesContext(connection) as queries:
        results = process_batch(batch)
    assert [result.split(":")[0] for result in results] == [InboundStatus.PROCESSED] * 8
    assert Contact.objects.count() == 8 and OutboundChange.objects.count() == 8
    assert statements_on(queries, "sync_fieldmapping") == 1  # the CRM's mappings, once
    assert statements_on(queries, "sync_rule") == 1  # the fan-out targets' rules, once
    assert statements_on(queries, "sync_automation") == 1


def test_the_next_batch_reads_the_configuration_again(client, crm_connection):
    deliver_creates(client, 2)
    for _ in range(2):
        [event, *_rest] = claim_batch(limit=1)
        with CaptureQueriesContext(connection) as queries:
            process_batch([event])
        assert statements_on(queries, "sync_fieldmapping") == 1


@pytest.mark.django_db(transaction=True)  # autocommit, as a worker runs: no test transaction
def test_an_update_reads_its_record_once_under_its_lock_with_its_workspace(client, crm_connection):
    deliver_creates(client, 1)
    process_batch(claim_batch())
    body = example("ContactUpdate", id="batch0", email="b0@example.com", firstName="Ada")
    assert post_crm(client, body).status_code == 200
    batch = claim_batch()
    with CaptureQueriesContext(connection) as queries:
        [result] = process_batch(batch)
    assert result.startswith(InboundStatus.PROCESSED)
    assert Contact.objects.get().first_name == "Ada"
    # The batch's lookup, then the row under its lock (workspace joined): not read again by
    # the write, nor its workspace on its own.
    assert statements_on(queries, "contacts_contact") == 2
    assert statements_on(queries, "portal_workspace") == 0
    # Written in the transaction that locked it: no savepoint, which would make PostgreSQL
    # keep the row's lock and its update as a multixact.
    assert not [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]
