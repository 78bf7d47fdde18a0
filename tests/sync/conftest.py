import pytest
import responses

from sync import tasks
from tests.api_fixtures import api, api_key, make_key  # noqa: F401
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
