"""ETag from `version`; If-Match on PUT, PATCH and DELETE: a lost update is 412."""

import pytest

from contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/"


@pytest.fixture
def contact(workspace):
    return ContactFactory(workspace=workspace, email="a@example.com")


def test_reads_and_writes_carry_the_version_as_etag(api, contact):
    assert api.get(f"{URL}{contact.public_id}/")["ETag"] == '"1"'
    assert api.patch(f"{URL}{contact.public_id}/", {"city": "Oslo"})["ETag"] == '"2"'
    assert api.post(URL, {"email": "b@example.com"})["ETag"] == '"1"'


def test_if_match_with_the_current_version_writes(api, contact):
    one = f"{URL}{contact.public_id}/"
    response = api.patch(one, {"city": "Oslo"}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 200 and response.json()["version"] == 2
    assert api.patch(one, {"city": "Rome"}, HTTP_IF_MATCH='W/"7", "2"').status_code == 200
    assert api.patch(one, {"city": "Bern"}, HTTP_IF_MATCH="*").status_code == 200


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_if_match_with_a_stale_version_is_412_and_changes_nothing(api, contact, method):
    one = f"{URL}{contact.public_id}/"
    api.patch(one, {"city": "Oslo"})  # someone else's write: version 2
    body = {"email": "a@example.com", "city": "Lost"} if method != "delete" else None
    response = getattr(api, method)(one, body, HTTP_IF_MATCH='"1"')
    assert response.status_code == 412
    error = response.json()["error"]
    assert error["code"] == "precondition_failed"
    assert error["details"] == {"etag": '"2"'}
    current = Contact.objects.get(pk=contact.pk)
    assert (current.city, current.version, current.deleted_at) == ("Oslo", 2, None)


def test_an_unreadable_if_match_matches_nothing(api, contact):
    response = api.delete(f"{URL}{contact.public_id}/", HTTP_IF_MATCH="yesterday")
    assert response.status_code == 412
    assert api.delete(f"{URL}{contact.public_id}/", HTTP_IF_MATCH='"1"').status_code == 204
