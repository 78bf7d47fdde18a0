import pytest
import responses

from sync import tasks
from sync.models import Link, OutboundChange
from tests.api_fixtures import api, api_key, make_key  # noqa: F401
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory
from tests.sync.highlevel_spec import assert_valid_crm_request


@pytest.fixture(autouse=True)
def enqueued(monkeypatch):
    """django-q2 is outside these tests: record what would be queued (ids only)."""
    calls = []
    monkeypatch.setattr(tasks, "async_task", lambda *args, **kwargs: calls.append(args))
    return calls


@pytest.fixture
def crm():
    """A RequestsMock for the CRM; every request it saw is validated against the CRM's spec."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
        for call in mock.calls:
            assert_valid_crm_request(call.request)


# A CRM connection and a contact it already has; modules may define their own `conn`.
@pytest.fixture
def conn(workspace):
    return ConnectionFactory(workspace=workspace, company_id="comp1")


@pytest.fixture
def linked_contact(conn, workspace):
    """A contact the CRM already has (remote id C1), with no push waiting."""
    contact = ContactFactory(workspace=workspace)
    Link.objects.create(
        connection=conn, object_type="contact", object_id=contact.pk, remote_id="C1"
    )
    OutboundChange.objects.all().delete()
    return contact
