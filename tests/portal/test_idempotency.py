"""Idempotency-Key: replay, conflict, expiry, and two identical requests at the same moment."""

import datetime
import hashlib
import json
import threading

import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact
from portal.models import IdempotencyRecord
from tests.api_fixtures import client_for
from tests.factories import WorkspaceFactory

URL = "/api/v1/contacts/"


@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_response(api):
    first = api.post(URL, {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post(URL, {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_same_key_with_another_body_is_409(api):
    api.post(URL, {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k-1")
    response = api.post(URL, {"first_name": "Bob"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    response = api.post(f"{URL}bulk/", {"contacts": [{}]}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 409
    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_api_key_and_expire(api, make_key):
    api.post(URL, {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k-1")
    _key, other = make_key()
    assert (
        client_for(other).post(URL, {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k-1").status_code
        == 201
    )
    IdempotencyRecord.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = api.post(URL, {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201 and not response.has_header("Idempotent-Replayed")
    assert Contact.objects.count() == 3


@pytest.mark.django_db
def test_a_refused_request_does_not_use_up_its_key(api):
    assert api.post(URL, {"email": "bad"}, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 400
    assert api.post(URL, {"email": "a@example.com"}, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201


@pytest.mark.django_db
def test_a_request_in_progress_is_409_and_an_abandoned_one_is_taken_over(api):
    IdempotencyRecord.objects.create(
        api_key=api.key,
        workspace=api.key.workspaces.get(),
        key="k-1",
        fingerprint=_fingerprint_of({"first_name": "Ann"}),
        created_at=timezone.now(),
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )
    response = api.post(URL, {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_progress"
    assert Contact.objects.count() == 0
    IdempotencyRecord.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=5))
    assert api.post(URL, {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201


def _fingerprint_of(body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"POST {URL}\n{canonical}".encode()).hexdigest()


@pytest.mark.django_db
def test_an_over_long_key_is_400(api):
    response = api.post(URL, {"first_name": "Ann"}, HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]


@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_once_create_one_object(api_key):
    _key, token = api_key
    barrier = threading.Barrier(4)
    responses = []

    def post() -> None:
        try:
            barrier.wait()
            client = client_for(token)
            responses.append(client.post(URL, {"first_name": "Once"}, HTTP_IDEMPOTENCY_KEY="same"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in responses)
    assert Contact.objects.filter(first_name="Once").count() == 1
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1


@pytest.mark.django_db
def test_the_same_key_and_body_in_another_workspace_is_another_request(make_key, workspace):
    other = WorkspaceFactory()
    _key, token = make_key(workspaces=[workspace, other])
    client = client_for(token)
    body = {"first_name": "Ann"}
    first = client.post(URL, body, HTTP_IDEMPOTENCY_KEY="k-1", HTTP_X_WORKSPACE=workspace.slug)
    second = client.post(URL, body, HTTP_IDEMPOTENCY_KEY="k-1", HTTP_X_WORKSPACE=other.slug)
    assert (first.status_code, second.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in second
    assert second.json()["id"] != first.json()["id"]
    assert second.json()["workspace"] == other.slug
    again = client.post(URL, body, HTTP_IDEMPOTENCY_KEY="k-1", HTTP_X_WORKSPACE=other.slug)
    assert again["Idempotent-Replayed"] == "true" and again.json() == second.json()
