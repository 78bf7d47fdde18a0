"""Random JSON bodies posted to every create endpoint never get a 5xx."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

FIELDS = [
    "first_name", "email", "phone", "tags", "custom_fields", "country", "website",
    "date_of_birth", "dnd", "assigned_user", "external_id", "contact", "title", "body",
    "due_date", "completed", "calendar_id", "start_time", "end_time", "status", "role",
    "permissions", "location_ids", "id", "workspace",
]  # fmt: skip
ENDPOINTS = [
    "/api/v1/users/",
    "/api/v1/contacts/",
    "/api/v1/tasks/",
    "/api/v1/notes/",
    "/api/v1/appointments/",
    "/api/v1/contacts/bulk/",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["2030-01-01T10:00:00Z", "+15550100000", "a@example.com", "ct_x", ""])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values, max_size=8)
bodies = (
    objects | values | st.builds(lambda items: {"contacts": items}, st.lists(objects, max_size=5))
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(endpoint=st.sampled_from(ENDPOINTS), body=bodies)
def test_random_bodies_never_get_a_server_error(api, workspace, endpoint, body):
    response = api.generic("POST", endpoint, json.dumps(body), content_type="application/json")
    assert response.status_code < 500, (response.status_code, body)
    assert response.status_code in (200, 201) or "error" in response.json()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=objects)
def test_random_patches_never_get_a_server_error(api, workspace, body):
    contact = ContactFactory(workspace=workspace)
    response = api.patch(f"/api/v1/contacts/{contact.public_id}/", body)
    assert response.status_code < 500, (response.status_code, body)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_random_bytes_never_get_a_server_error(api, raw):
    response = api.generic("POST", "/api/v1/contacts/", raw, content_type="application/json")
    assert response.status_code < 500
