"""10,000 hostile bodies (hypothesis, seeded) across every write endpoint of the partner API:
not one answer is a 5xx, and every list endpoint still answers 200 afterwards.

The Django test client (no sockets) keeps this to a few minutes; `derandomize` makes the run
the same every time, so a failure reproduces.
"""

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.authentication import ApiKeyUser
from tests.factories import (
    AppointmentFactory,
    ContactFactory,
    CrmUserFactory,
    NoteFactory,
    TaskFactory,
)
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
TOTAL_BODIES = 10_000
RESOURCES = ["users", "contacts", "tasks", "notes", "appointments"]
# (method, path template); {id} is an object of the resource, {contact} a contact.
WRITES = [
    *[("POST", f"/api/v1/{r}/") for r in RESOURCES],
    *[("PUT", f"/api/v1/{r}/{{id}}/") for r in RESOURCES],
    *[("PATCH", f"/api/v1/{r}/{{id}}/") for r in RESOURCES],
    *[("POST", f"/api/v1/contacts/{{contact}}/{r}/") for r in ("tasks", "notes", "appointments")],
    ("POST", "/api/v1/contacts/bulk/"),
    ("POST", "/api/v1/courses/import"),
]
EXAMPLES_EACH = TOTAL_BODIES // len(WRITES)  # 500 for each of the 20 endpoints
LISTS = [f"/api/v1/{r}/" for r in RESOURCES] + ["/api/v1/workflows/"]

FIELDS = [
    "first_name", "last_name", "email", "phone", "tags", "custom_fields", "country", "website",
    "timezone", "date_of_birth", "dnd", "assigned_user", "external_id", "contact", "title",
    "body", "due_date", "completed", "calendar_id", "start_time", "end_time", "status", "role",
    "type", "permissions", "location_ids", "author", "products", "categories", "contacts", "id",
]  # fmt: skip
HOSTILE_TEXT = [
    "\udc00", "\ud800x", "nul\x00", "\u202e", "💥" * 50, "x" * 300, "", " ", "null",
    "2030-01-01T10:00:00Z", "0000-00-00", "9999-12-31T23:59:59+14:00", "+15550100000",
    "a@example.com", "A@EXAMPLE.COM", "ct_x", "ZZ", "Not/AZone", "Europe/Berlin", "../../etc",
    "' OR 1=1 --", "<script>", "%00", "\\u0000",
]  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(HOSTILE_TEXT)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
objects = st.dictionaries(
    st.sampled_from(FIELDS) | st.sampled_from(HOSTILE_TEXT), values, max_size=8
)
documents = (
    objects | values | st.builds(lambda items: {"contacts": items}, st.lists(objects, max_size=4))
)


def _nested(depth: int) -> str:
    return '{"custom_fields": {"a": ' + "[" * depth + "]" * depth + "}}"


# Text a JSON encoder would never write: deep nesting, raw escapes, broken UTF-8.
raw_texts = st.one_of(
    st.integers(min_value=1, max_value=3000).map(_nested),
    st.sampled_from(
        [
            b'{"first_name": "\\udc00"}',
            b'{"first_name": "\\ud800\\u0041"}',
            b'{"email": "\xed\xa0\x80@example.com"}',
            b'{"first_name": NaN}',
            b'{"first_name": 1e999}',
            b'{"tags": ["a",]}',
            b'{"a": 1, "a": 2}',
            b"\xff\xfe{}",
            b"",
            b"[" * 5000,
            b'{"n": ' + b"9" * 5000 + b"}",
        ]
    ),
)
bodies = st.one_of(documents.map(json.dumps), raw_texts)


@pytest.fixture
def targets(workspace):
    contact = ContactFactory(workspace=workspace, email="target@example.com")
    ConnectionFactory(workspace=workspace, dry_run=True)  # workflows, imports: nothing is sent
    return {
        "contact": contact.public_id,
        "users": CrmUserFactory(workspace=workspace).public_id,
        "contacts": contact.public_id,
        "tasks": TaskFactory(workspace=workspace, contact=contact).public_id,
        "notes": NoteFactory(workspace=workspace, contact=contact).public_id,
        "appointments": AppointmentFactory(workspace=workspace, contact=contact).public_id,
    }


@pytest.fixture
def fast_api(api):
    """The key's client without the per-request key lookup, rate count and log lines (their
    own tests cover them): the bodies are what is under test here, ten thousand of them."""
    api.force_authenticate(user=ApiKeyUser(api.key), token=api.key)
    logging.disable(logging.WARNING)
    yield api
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize(("method", "template"), WRITES)
def test_hostile_bodies_never_get_a_server_error(fast_api, targets, method, template):
    api = fast_api
    resource = template.split("/")[3]
    url = template.format(id=targets.get(resource, "ct_x"), contact=targets["contact"])
    seen: list[int] = []

    @settings(
        max_examples=EXAMPLES_EACH,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(body=bodies)
    def send(body):
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        response = api.generic(method, url, raw, content_type="application/json")
        seen.append(response.status_code)
        assert response.status_code < 500, (response.status_code, raw[:300], response.content)
        assert response["Content-Type"] == "application/json"

    send()
    assert len(seen) == EXAMPLES_EACH
    for listing in LISTS:
        assert api.get(listing).status_code == 200, listing
