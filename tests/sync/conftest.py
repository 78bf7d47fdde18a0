import pytest
import responses

from sync.engine import queue
from sync.models import Link, OutboundChange
from tests.api_fixtures import api, api_key, make_key  # noqa: F401
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory
from tests.sync.highlevel_spec import assert_valid_crm_request


@pytest.fixture(autouse=True)
def broker(monkeypatch) -> dict[str, list[tuple]]:
    """django-q2 is outside these tests: record what would be queued (task names, ids only),
    inbound tasks apart from the others. A wake is taken at once, as by an idle worker (its
    flag cleared), so every wake a test causes is recorded (tests/sync/test_queue.py tests the
    flag itself)."""
    queued: dict[str, list[tuple]] = {"inbound": [], "other": []}

    def record(task: str, *args, **kwargs) -> None:
        queued["inbound" if task.startswith("sync.inbound.") else "other"].append((task, *args))
        queue.woken(task)

    monkeypatch.setattr(queue, "async_task", record)
    return queued


@pytest.fixture(autouse=True)
def enqueued(broker) -> list[tuple]:
    """Pushes and automation steps queued (a push is a wake of PUSH_TASK, no id)."""
    return broker["other"]


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
