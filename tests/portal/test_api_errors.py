"""Every bad input gets its status and the one error shape, never a 500."""

import json

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIRequestFactory

from portal.api_errors import api_exception_handler
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/"


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    return body["error"]


def post_raw(api, body: bytes | str, content_type: str = "application/json", url: str = URL):
    return api.generic("POST", url, body, content_type=content_type)


def test_malformed_json_is_400(api):
    assert error_of(post_raw(api, b'{"first_name": '), 400)["code"] == "malformed_json"
    assert error_of(post_raw(api, b"\xff\xfe"), 400)["code"] == "malformed_json"
    assert error_of(post_raw(api, b'{"dnd": NaN}'), 400)["code"] == "malformed_json"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_non_json_is_415(api, content_type):
    error = error_of(post_raw(api, "first_name=Ann", content_type), 415)
    assert error["code"] == "unsupported_media_type"


def test_a_body_over_one_megabyte_is_413(api):
    body = json.dumps({"first_name": "x" * (1024 * 1024)})
    assert error_of(post_raw(api, body), 413)["code"] == "payload_too_large"
    bulk = json.dumps({"contacts": [{"first_name": "x" * 2000}] * 600})
    assert error_of(post_raw(api, bulk, url=f"{URL}bulk/"), 413)["code"] == "payload_too_large"


def test_unknown_fields_are_400_with_field_details(api):
    error = error_of(api.post(URL, {"first_name": "A", "id": "ct_x", "colour": "red"}), 400)
    assert error["code"] == "invalid"
    assert error["details"] == {"colour": ["Unknown field."], "id": ["Unknown field."]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"tags": "vip"}, "tags"),
        ({"tags": [1, {"a": 1}]}, "tags"),
        ({"custom_fields": [1]}, "custom_fields"),
        ({"country": "Germany"}, "country"),
        ({"date_of_birth": "yesterday"}, "date_of_birth"),
        ({"assigned_user": "us_doesnotexist"}, "assigned_user"),
        ({"assigned_user": 7}, "assigned_user"),
        ({"dnd": "perhaps"}, "dnd"),
        ({"first_name": "x" * 101}, "first_name"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(api, body, field):
    error = error_of(api.post(URL, body), 400)
    assert list(error["details"]) == [field]


@pytest.mark.parametrize("body", [[], [{"first_name": "A"}], "text", 42, None])
def test_a_body_that_is_not_an_object_is_400(api, body):
    assert error_of(post_raw(api, json.dumps(body)), 400)["code"] == "invalid"


def test_required_fields_are_400(api):
    error = error_of(api.post("/api/v1/tasks/", {"title": "No contact"}), 400)
    assert "contact" in error["details"]


def test_bad_query_parameters_are_400(api):
    for query in ("cursor=nonsense", "limit=0", "limit=9999", "limit=x", "colour=red"):
        error_of(api.get(f"{URL}?{query}"), 400)
    error = error_of(api.get(f"{URL}?updated_since=last-week"), 400)
    assert "updated_since" in error["details"]
    assert "email" in error_of(api.get(f"{URL}?email=nope"), 400)["details"]


def test_unknown_paths_and_methods(api, workspace):
    assert error_of(api.get("/api/v1/nothing/"), 404)["code"] == "not_found"
    assert error_of(api.get(f"{URL}ct_missing/"), 404)["code"] == "not_found"
    assert error_of(api.put(URL, {}), 405)["code"] == "method_not_allowed"
    contact = ContactFactory(workspace=workspace)
    assert error_of(api.post(f"{URL}{contact.public_id}/", {}), 405)


def test_write_path_refusals_are_422_with_field_details():
    request = APIRequestFactory().post(URL)
    response = api_exception_handler(
        ValidationError({"contact": ["Belongs to another workspace."]}), {"request": request}
    )
    assert response.status_code == 422
    assert response.data["error"]["code"] == "unprocessable"
    assert response.data["error"]["details"] == {"contact": ["Belongs to another workspace."]}


def test_no_authentication_beats_bad_input(client):
    response = client.generic("POST", URL, b"{bad", content_type="application/json")
    assert error_of(response, 401)["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "body",
    [
        {"custom_fields": {"a": "nul\u0000"}},
        {"custom_fields": {"nul\u0000": 1}},
        {"custom_fields": {"a": [{"b": "\u0000"}]}},
        {"tags": ["a\u0000"]},
        {"first_name": "\u0000"},
    ],
)
def test_nul_characters_are_400_not_a_database_error(api, body):
    # PostgreSQL cannot store NUL in text or jsonb: refused before the write, on every database.
    error = error_of(post_raw(api, json.dumps(body)), 400)
    assert list(error["details"]) == list(body)


def test_nul_characters_in_headers_paths_and_queries(api):
    assert error_of(api.post(URL, {}, HTTP_X_WORKSPACE="a\x00b"), 400)["details"]
    assert error_of(api.post(URL, {}, HTTP_IDEMPOTENCY_KEY="k\x00"), 400)["details"]
    assert error_of(api.get(f"{URL}ct_%00/"), 404)["code"] == "not_found"
    assert error_of(api.get(f"{URL}ct_%00/tasks/"), 404)["code"] == "not_found"
    for query in ("tag=%00", "email=a%00@x.com", "cursor=%00"):
        error_of(api.get(f"{URL}?{query}"), 400)
