"""The fields the write path lets full_clean skip are exactly those full_clean would pass
unchanged; every other value is still checked, with Django's own errors."""

import pytest
from django.core.exceptions import ValidationError

from contacts import row_values, services
from contacts.models import Contact, CrmUser, Task
from contacts.plain_fields import plainly_valid
from tests.factories import TEST_ACTOR

pytestmark = pytest.mark.django_db

TOO_LONG = "x" * 101  # first_name and last_name hold 100


@pytest.mark.parametrize(
    "value",
    ["Zoë", "", " ", "x" * 100, TOO_LONG, None, 7, ["a"], b"bytes", True, False],
)
def test_a_skipped_field_is_one_its_clean_passes_unchanged(workspace, value):
    for model in (Contact, CrmUser, Task):
        instance = model(workspace=workspace)
        for field in instance._meta.concrete_fields:
            if not field.is_relation and not field.primary_key:
                setattr(instance, field.attname, value)
        for name in plainly_valid(instance):
            field = instance._meta.get_field(name)
            assert field.clean(value, instance) == value, (model, name, value)


def test_bad_values_are_not_skipped_and_get_djangos_errors(workspace):
    contact = Contact(workspace=workspace, first_name=TOO_LONG, last_name=7, dnd=None)
    user = CrmUser(workspace=workspace, email="a@example.com", email_key="")
    assert {"first_name", "last_name", "dnd"}.isdisjoint(plainly_valid(contact))
    assert "email_key" not in plainly_valid(user)  # not blank=True: an empty one is refused
    assert {"email_key", "phone", "company_name"} <= set(plainly_valid(contact))
    with pytest.raises(ValidationError) as skipped:
        row_values.validate(contact)
    with pytest.raises(ValidationError) as full:
        contact.full_clean(exclude=["workspace", "assigned_user"], validate_unique=False,
                           validate_constraints=False)  # fmt: skip
    assert skipped.value.message_dict == full.value.message_dict
    assert set(skipped.value.message_dict) == {"first_name", "dnd"}


def test_the_write_path_still_refuses_what_full_clean_refuses(workspace):
    rows = [
        services.NewRow({"first_name": TOO_LONG}),
        services.NewRow({"first_name": "Zoë", "dnd": "maybe"}),
        services.NewRow({"first_name": "Ada", "dnd": True}),
    ]
    results = services.mirror_bulk_create(Contact, workspace=workspace, actor=TEST_ACTOR, rows=rows)
    assert results[0].message_dict["first_name"] == [
        "Ensure this value has at most 100 characters (it has 101)."
    ]
    assert results[1].message_dict["dnd"] == ["“maybe” value must be either True or False."]
    assert isinstance(results[2], Contact) and results[2].dnd is True
    with pytest.raises(ValidationError) as single:
        services.contact_create(workspace=workspace, actor=TEST_ACTOR, data={"city": "c" * 101})
    assert "city" in single.value.message_dict
    assert list(Contact.objects.values_list("first_name", flat=True)) == ["Ada"]


def test_an_email_is_skipped_only_as_normalize_email_returned_it(workspace):
    from contacts.normalize import normalize_email

    normalized = normalize_email("  Plain.Fields@Bücher.Example ")
    assert normalized == "Plain.Fields@xn--bcher-kva.example"
    for model in (Contact, CrmUser):
        checked = model(workspace=workspace, email=normalized)
        assert "email" in plainly_valid(checked)
        assert checked._meta.get_field("email").clean(normalized, checked) == normalized
        for raw in ("plain.fields@bücher.example", "not-an-email", "x" * 250 + "@a.b"):
            assert "email" not in plainly_valid(model(workspace=workspace, email=raw))
    assert "email" in plainly_valid(Contact(workspace=workspace, email=""))  # blank=True
    assert "email" not in plainly_valid(CrmUser(workspace=workspace, email=""))
    with pytest.raises(ValidationError) as refused:
        row_values.validate(CrmUser(workspace=workspace, email="not-an-email", email_key="k"))
    assert "email" in refused.value.message_dict
