"""POST /api/v1/contacts/bulk/: upsert by external_id or e-mail, partial success."""

import pytest

from contacts.models import Contact
from portal.models import AuditEntry
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/bulk/"


def test_partial_success_with_a_result_per_item(api, workspace):
    by_email = ContactFactory(workspace=workspace, email="known@example.com", first_name="Old")
    by_external = ContactFactory(workspace=workspace, external_id="p-7", first_name="Old")
    same = ContactFactory(workspace=workspace, email="same@example.com", first_name="Same")
    items = [
        {"email": "new@example.com", "first_name": "New"},
        {"email": "KNOWN@example.com", "first_name": "Updated"},
        {"external_id": "p-7", "first_name": "Updated"},
        {"email": "broken"},
        {"first_name": "x", "colour": "red"},
        "not an object",
        {"email": "same@example.com", "first_name": "Same"},
        {"external_id": "p-8", "email": "new2@example.com"},
    ]
    response = api.post(URL, {"contacts": items})
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "created", "updated", "updated", "error", "error", "error", "unchanged", "created",
    ]  # fmt: skip
    assert [r["index"] for r in body["results"]] == list(range(8))
    assert (body["created"], body["updated"], body["unchanged"], body["failed"]) == (2, 2, 1, 3)
    assert body["results"][1]["id"] == by_email.public_id
    assert body["results"][2]["id"] == by_external.public_id
    assert body["results"][6]["id"] == same.public_id
    assert body["results"][3]["errors"] == {"email": ["Enter a valid e-mail address."]}
    assert body["results"][4]["errors"] == {"colour": ["Unknown field."]}
    assert body["results"][3]["id"] is None
    by_email.refresh_from_db()
    assert by_email.first_name == "Updated"
    assert Contact.objects.filter(workspace=workspace).count() == 5
    created = Contact.objects.get(public_id=body["results"][0]["id"])
    entry = AuditEntry.objects.get(object_id=created.public_id)
    assert entry.actor_kind == "api_key" and entry.actor_id == str(api.key.pk)


def test_external_id_falls_back_to_an_unlinked_contact_with_that_email(api, workspace):
    crm_contact = ContactFactory(workspace=workspace, email="ann@example.com")
    body = api.post(URL, {"contacts": [{"external_id": "s-1", "email": "ann@example.com"}]}).json()
    assert body["results"][0] == {
        "index": 0, "status": "updated", "id": crm_contact.public_id, "errors": None,
    }  # fmt: skip
    crm_contact.refresh_from_db()
    assert crm_contact.external_id == "s-1"


def test_a_deleted_external_id_is_an_item_error(api, workspace):
    gone = ContactFactory(workspace=workspace, external_id="p-1")
    api.delete(f"/api/v1/contacts/{gone.public_id}/")
    result = api.post(URL, {"contacts": [{"external_id": "p-1"}]}).json()["results"][0]
    assert result["status"] == "error" and "external_id" in result["errors"]


def test_an_item_refused_by_the_write_path_leaves_no_trace(api, workspace):
    # The second item passes validation; the write path refuses it inside its savepoint.
    gone = ContactFactory(workspace=workspace, external_id="gone-1", first_name="Gone")
    api.delete(f"/api/v1/contacts/{gone.public_id}/")
    items = [{"first_name": "Kept"}, {"external_id": "gone-1", "first_name": "Never"}]
    body = api.post(URL, {"contacts": items}).json()
    assert [r["status"] for r in body["results"]] == ["created", "error"]
    assert sorted(Contact.objects.values_list("first_name", flat=True)) == ["Gone", "Kept"]
    assert not AuditEntry.objects.filter(changes__first_name__1="Never").exists()


@pytest.mark.parametrize(
    "body",
    [{"contacts": []}, {"contacts": [{}] * 1001}, {"contacts": {}}, {}, {"contacts": [{}], "x": 1}],
)
def test_a_bad_envelope_is_400(api, body):
    response = api.post(URL, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Contact.objects.exists()


def test_a_thousand_items_in_one_call(api):
    items = [{"email": f"c{i}@example.com", "external_id": f"e{i}"} for i in range(1000)]
    body = api.post(URL, {"contacts": items}).json()
    assert (body["created"], body["failed"]) == (1000, 0)
    assert Contact.objects.count() == 1000
