"""A delivery runs WEBHOOK_MIDDLEWARE only; pages keep the whole of MIDDLEWARE
(portal/webhook_middleware.py)."""

import pytest
from django.test import Client

from sync.models import InboundEvent
from tests.sync.webhooks.conftest import URL, example, post_crm

pytestmark = pytest.mark.django_db


def test_a_delivery_skips_the_pages_middleware(crm_connection):
    response = post_crm(Client(), example("ContactCreate"), headers={"HTTP_COOKIE": "sessionid=x"})
    assert response.status_code == 200 and InboundEvent.objects.count() == 1
    assert response["X-Request-ID"] and response["X-Content-Type-Options"] == "nosniff"
    assert int(response["Content-Length"]) == len(response.content)
    for page_only in ("Content-Security-Policy", "X-Frame-Options", "Set-Cookie"):
        assert page_only not in response
    assert "Cookie" not in response.get("Vary", "")


def test_a_page_still_runs_the_whole_middleware():
    response = Client().get("/admin/login/")
    assert response.status_code == 200
    assert "Content-Security-Policy" in response and response["X-Frame-Options"] == "DENY"
    assert "csrftoken" in response.cookies and response["X-Request-ID"]


def test_the_https_redirect_applies_to_deliveries_too(settings):
    settings.SECURE_SSL_REDIRECT = True
    response = Client().post(URL, b"{}", content_type="application/json")  # over http
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert InboundEvent.objects.count() == 0


def test_a_refused_delivery_is_logged_with_its_request_id(caplog):
    response = Client().post(URL, b"{}", content_type="application/json")
    assert response.status_code == 401
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert [r.status_code for r in logged] == [401]  # once: the chain does not log it again


def test_options_describes_the_endpoint_in_json():
    """A DRF Response (rendered late): the chain renders it as Django's handler does."""
    response = Client().options(URL)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json()["name"] == "High Level Webhook"


@pytest.mark.parametrize(
    ("path", "details"),
    [
        ("/webhooks/nowhere/", None),
        ("/webhooks/highlevel", {"url": "/webhooks/highlevel/"}),  # no redirect: a POST's body
    ],
)
def test_an_unknown_webhook_path_is_a_json_404(path, details):
    response = Client().post(path, b"{}", content_type="application/json")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["details"] == details
