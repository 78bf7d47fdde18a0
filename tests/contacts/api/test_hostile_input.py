"""Items 1-3 of issue 16: text that cannot be stored, deep nesting, crashes, the missing slash."""

import json

import pytest

from contacts.models import Contact
from portal.parsers import MAX_JSON_DEPTH
from sync.connectors.highlevel.webhooks import HighLevelWebhooks
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/"
LONE = "\udc00"


def post_json(api, url: str, text: str):
    return api.generic("POST", url, text.encode(), content_type="application/json")


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (URL, '{"custom_fields": {"a": "\\udc00"}}'),
        (URL, '{"custom_fields": {"\\ud800": 1}}'),
        (URL, '{"first_name": "x\\ud83d"}'),
        (URL, '{"tags": ["\\udfff"]}'),
        ("/api/v1/users/", '{"email": "a@example.com", "permissions": {"p": ["\\udc00"]}}'),
        ("/api/v1/users/", '{"email": "a@example.com", "permissions": {"p": "\\u0000"}}'),
        (f"{URL}bulk/", '{"contacts": [{"first_name": "ok"}, {"last_name": "\\udc00"}]}'),
        (f"{URL}bulk/", '{"contacts": [{"custom_fields": {"k": "\\u0000"}}]}'),
    ],
)
def test_lone_surrogates_and_nul_are_400_everywhere(api, url, body):
    error = error_of(post_json(api, url, body), 400)
    assert error["code"] == "invalid"
    assert "surrogates" in json.dumps(error["details"])
    assert not Contact.objects.exists()


def test_a_surrogate_pair_is_a_character_and_is_kept(api):
    response = post_json(api, URL, '{"first_name": "\\ud83d\\ude00"}')
    assert response.status_code == 201, response.content
    assert response.json()["first_name"] == "\U0001f600"


def test_the_workspace_list_keeps_working_after_a_refused_surrogate(api, workspace):
    ContactFactory(workspace=workspace)
    post_json(api, URL, '{"custom_fields": {"a": "\\udc00"}}')
    assert api.get(URL).status_code == 200


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 400, 5000])
def test_json_nested_deeper_than_the_limit_is_400(api, depth):
    nested = "[" * depth + "]" * depth
    for body in (f'{{"custom_fields": {{"a": {nested}}}}}', nested):
        error = error_of(post_json(api, URL, body), 400)
        assert error["code"] == "too_deep"


def test_brackets_inside_strings_do_not_count_as_nesting(api):
    response = post_json(api, URL, json.dumps({"first_name": "[" * 90, "last_name": '\\"{{'}))
    assert response.status_code == 201, response.content


def test_nesting_up_to_the_limit_is_accepted(api):
    value = "x"
    for _ in range(MAX_JSON_DEPTH - 2):
        value = [value]
    response = api.post(URL, {"custom_fields": {"deep": value}}, format="json")
    assert response.status_code == 201, response.content


def test_an_unexpected_exception_answers_json_with_the_request_id(api, monkeypatch, caplog):
    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("contacts.api.views.ContactViewSet.create_service", staticmethod(crash))
    response = api.post(URL, {"first_name": "A"}, HTTP_X_REQUEST_ID="req-123")
    error = error_of(response, 500)
    assert error["code"] == "server_error"
    assert error["details"] == {"request_id": "req-123"}
    assert response["X-Request-ID"] == "req-123"
    assert "boom" not in response.content.decode()
    assert any("RuntimeError: boom" in (r.exc_text or "") for r in caplog.records)


def test_an_unexpected_exception_in_a_webhook_view_answers_json(client, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(HighLevelWebhooks, "verify", crash)
    response = client.post("/webhooks/highlevel/", {"type": "x"}, content_type="application/json")
    error = error_of(response, 500)
    assert error["code"] == "server_error"
    assert error["details"]["request_id"] == response["X-Request-ID"]


def test_a_post_without_the_trailing_slash_is_a_json_404_naming_the_url(api, workspace):
    error = error_of(api.post("/api/v1/contacts", {"first_name": "A"}), 404)
    assert error["details"] == {"url": "/api/v1/contacts/"}
    contact = ContactFactory(workspace=workspace)
    error = error_of(api.patch(f"/api/v1/contacts/{contact.public_id}", {}), 404)
    assert error["details"] == {"url": f"/api/v1/contacts/{contact.public_id}/"}
    assert error_of(api.post("/api/v1/nothing", {}), 404)["details"] is None


def test_csrf_never_applies_to_bearer_calls_even_with_a_session(api, admin_user):
    api.force_login(admin_user)  # a browser session cookie alongside the bearer key
    api.handler.enforce_csrf_checks = True
    response = api.post(URL, {"first_name": "A"})
    assert response.status_code == 201, response.content
    assert api.post("/api/v1/contacts", {"first_name": "A"}).status_code == 404
