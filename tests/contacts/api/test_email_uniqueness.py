"""E-mail uniqueness per workspace (Workspace.allow_duplicate_contacts), kept by the database."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from contacts.models import Contact
from contacts.services import contact_create, mirror_delete, workspace_set_allow_duplicate_contacts
from tests.api_fixtures import client_for
from tests.factories import TEST_ACTOR, ContactFactory, WorkspaceFactory

URL = "/api/v1/contacts/"


@pytest.mark.django_db
def test_a_second_contact_with_the_same_email_any_case_is_409_naming_the_first(api, workspace):
    first = api.post(URL, {"email": "Ann@Example.com"}).json()
    response = api.post(URL, {"email": "ann@EXAMPLE.com"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "duplicate"
    assert error["details"]["existing_id"] == first["id"]
    assert "email" in error["details"]
    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_changing_an_email_to_a_taken_one_is_409(api, workspace):
    ContactFactory(workspace=workspace, email="a@example.com")
    other = ContactFactory(workspace=workspace, email="b@example.com")
    response = api.patch(f"{URL}{other.public_id}/", {"email": "A@example.com"})
    assert response.status_code == 409
    other.refresh_from_db()
    assert other.email == "b@example.com"


@pytest.mark.django_db
def test_a_deleted_contact_frees_its_email_and_other_workspaces_are_separate(api, workspace):
    old = ContactFactory(workspace=workspace, email="a@example.com")
    mirror_delete(old, actor=TEST_ACTOR)
    assert api.post(URL, {"email": "a@example.com"}).status_code == 201
    ContactFactory(workspace=WorkspaceFactory(), email="a@example.com")
    assert Contact.objects.filter(email_key="a@example.com").count() == 3


@pytest.mark.django_db
def test_upsert_by_email_still_updates_the_one_contact(api, workspace):
    ContactFactory(workspace=workspace, email="a@example.com", first_name="Old")
    body = {"contacts": [{"email": "A@example.com", "first_name": "New"}] * 2}
    response = api.post(f"{URL}bulk/", body, format="json")
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["updated", "unchanged"]
    assert Contact.objects.get().first_name == "New"


@pytest.mark.django_db
def test_a_workspace_that_allows_duplicates_takes_them(api, workspace):
    workspace_set_allow_duplicate_contacts(workspace=workspace, allow=True)
    assert api.post(URL, {"email": "a@example.com"}).status_code == 201
    assert api.post(URL, {"email": "a@example.com"}).status_code == 201
    assert Contact.objects.count() == 2
    with pytest.raises(ValidationError) as refused:
        workspace_set_allow_duplicate_contacts(workspace=workspace, allow=False)
    assert "a@example.com" in str(refused.value)
    workspace.refresh_from_db()
    assert workspace.allow_duplicate_contacts is True


@pytest.mark.django_db
def test_switching_uniqueness_on_protects_existing_contacts(workspace):
    workspace_set_allow_duplicate_contacts(workspace=workspace, allow=True)
    ContactFactory(workspace=workspace, email="a@example.com")
    workspace_set_allow_duplicate_contacts(workspace=workspace, allow=False)
    with pytest.raises(ValidationError):
        contact_create(workspace=workspace, actor=TEST_ACTOR, data={"email": "A@example.com"})


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_email_make_one_contact(api_key, workspace):
    _key, token = api_key
    barrier = threading.Barrier(4)
    statuses = []

    def post() -> None:
        try:
            client = client_for(token)
            barrier.wait()
            statuses.append(client.post(URL, {"email": "race@example.com"}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409]
    assert Contact.objects.filter(email_key="race@example.com").count() == 1


@pytest.mark.django_db
def test_a_bulk_create_refuses_taken_emails_row_by_row(workspace):
    from contacts.services import DuplicateEmail, NewRow, mirror_bulk_create

    ContactFactory(workspace=workspace, email="taken@example.com")
    emails = ("taken@example.com", "new@example.com", "NEW@example.com")
    rows = [NewRow({"email": email}) for email in emails]
    results = mirror_bulk_create(Contact, workspace=workspace, actor=TEST_ACTOR, rows=rows)
    assert [type(r) for r in results] == [DuplicateEmail, Contact, DuplicateEmail]
    assert Contact.objects.count() == 2
