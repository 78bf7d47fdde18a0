"""Hostile bodies with valid signatures: never a 5xx, and processing never crashes."""

import json
import re

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.connectors.highlevel.events import EVENTS
from tests.sync.webhooks.conftest import LOCATION, now_iso, post_crm

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["id", "contactId", "title", "body", "email", "phone", "firstName", "dateOfBirth",
          "dateAdded", "dateUpdated", "tags", "customFields", "dnd", "assignedTo", "startTime",
          "calendarId", "appointmentStatus", "appointment", "role", "locations",
          "country", "website", "dueDate", "completed", "userId"]  # fmt: skip
plausible_events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(sorted(EVENTS)),
        "locationId": st.just(LOCATION),
        "companyId": st.just(LOCATION),
        "timestamp": st.builds(now_iso),
        "webhookId": st.text(max_size=200),
    },
    optional={name: json_values for name in FIELDS},
)
bodies = st.one_of(
    plausible_events.map(lambda body: json.dumps(body).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.text(), json_values).map(
        lambda body: json.dumps({**body, "timestamp": now_iso()}).encode()
    ),
    st.binary(max_size=300),
)


@pytest.fixture
def remote_refuses():
    """Fetches to the CRM (missing fields) answer 404: an outside failure, never a crash."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, re.compile(r"https://.*"), status=404, json={"message": "no"})
        yield mock


FUZZ = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@settings(max_examples=1000, **FUZZ)
@given(body=bodies)
def test_a_thousand_signed_random_bodies_never_get_a_5xx(client, crm_connection, body):
    response = post_crm(client, None, raw=body)
    assert response.status_code < 500
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}


@settings(max_examples=200, **FUZZ)
@given(body=plausible_events.map(lambda body: json.dumps(body).encode()))
def test_processing_random_events_records_an_outcome_and_never_crashes(
    client, crm_connection, run_inbound, remote_refuses, body
):
    assert post_crm(client, None, raw=body).status_code < 500
    for result in run_inbound():
        assert isinstance(result, str)
