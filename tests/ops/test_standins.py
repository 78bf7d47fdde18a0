"""The demo's stand-in partner and notification platform answer like small JSON APIs: a key
per call, JSON both ways, a page for people at `/`."""

import json

import pytest
import requests

from sandbox.standins.notifications import NotificationStandIn
from sandbox.standins.partner import PartnerStandIn

STANDINS = {
    "partner": (PartnerStandIn, "/api/contacts", {"X-API-Key": "k"}),
    "notifications": (NotificationStandIn, "/v1/subscribers", {"Authorization": "ApiKey k"}),
}


@pytest.fixture(params=sorted(STANDINS))
def standin(request):
    kind, path, headers = STANDINS[request.param]
    running = kind("k").start()
    yield running, path, headers
    running.stop()


def call(url: str, headers: dict, body: bytes | None = None) -> tuple[int, bytes, str]:
    method = "POST" if body is not None else "GET"
    response = requests.request(method, url, data=body, headers=headers, timeout=5)
    return response.status_code, response.content, response.headers["Content-Type"]


def test_a_call_without_its_key_is_refused_in_json(standin):
    running, path, _headers = standin
    status, body, content_type = call(running.base_url + path, {"X-API-Key": "wrong"})
    assert (status, content_type) == (401, "application/json")
    assert json.loads(body) == {"message": "Invalid API key"}


def test_a_body_that_is_not_json_is_refused(standin):
    running, path, headers = standin
    status, body, _type = call(running.base_url + path, headers, b"{not json")
    assert status == 400 and json.loads(body) == {"message": "Invalid JSON"}


def test_the_page_for_people_needs_no_key(standin):
    running, _path, _headers = standin
    status, body, content_type = call(running.base_url + "/", {})
    assert status == 200 and content_type.startswith("text/html") and b"<h1>" in body
