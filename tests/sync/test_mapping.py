import datetime

import pytest

from sync.mapping.mapper import from_remote, payload_hash, to_remote
from sync.mapping.transforms import MappingError
from sync.models import FieldMapping
from tests.factories import ContactFactory, CrmUserFactory, TaskFactory
from tests.sync.factories import ConnectionFactory, FieldMappingFactory

pytestmark = pytest.mark.django_db
T = FieldMapping.Transform


@pytest.fixture
def conn(workspace):
    return ConnectionFactory(workspace=workspace)


def test_default_contact_mapping_to_remote(conn, workspace):
    contact = ContactFactory(
        workspace=workspace,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        phone="(555) 010-0000",
        tags=["vip"],
        custom_fields={"cf1": "x"},
        date_of_birth=datetime.date(1990, 9, 25),
    )
    payload = to_remote(contact, conn)
    assert payload == {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "phone": "+15550100000",
        "tags": ["vip"],
        "customFields": [{"id": "cf1", "field_value": "x"}],
        "dateOfBirth": "1990-09-25",
        "dnd": False,
    }


def test_default_contact_mapping_from_remote_merges_custom_fields(conn, workspace):
    contact = ContactFactory(workspace=workspace, custom_fields={"keep": 1, "cf1": "old"})
    payload = {
        "firstName": "Ada",
        "email": "ada@example.com",
        "dateOfBirth": "1990-09-25",
        "customFields": [{"id": "cf1", "value": "new"}],
    }
    values = from_remote(payload, "contact", conn, instance=contact)
    assert values == {
        "first_name": "Ada",
        "email": "ada@example.com",
        "date_of_birth": datetime.date(1990, 9, 25),
        "custom_fields": {"keep": 1, "cf1": "new"},
    }


def test_references_resolve_through_links(conn, workspace):
    user = CrmUserFactory(workspace=workspace)
    conn.links.create(object_type="user", object_id=user.pk, remote_id="U1")
    task = TaskFactory(workspace=workspace, assigned_user=user)
    assert to_remote(task, conn)["assignedTo"] == "U1"
    assert from_remote({"assignedTo": "U1"}, "task", conn) == {"assigned_user": user}
    assert from_remote({"assignedTo": "unknown"}, "task", conn) == {"assigned_user": None}


def test_rows_override_or_disable_defaults_field_by_field_and_transforms_work(conn, workspace):
    def add(**kw):
        FieldMappingFactory(connection=conn, **kw)

    # "off" rows remove a default; the name row joins both names into one remote field.
    add(mirror_field="first_name", remote_path="firstName", direction="off")
    add(mirror_field="last_name", remote_path="", direction="off")

    add(mirror_field="first_name,last_name", remote_path="name", transform=T.NAME)
    add(mirror_field="email", remote_path="contact.email", transform=T.LOWER)
    add(mirror_field="company_name", remote_path="org", transform=T.STRIP)
    add(mirror_field="", remote_path="origin", transform=T.CONSTANT, argument="portal")
    add(mirror_field="gender", remote_path="sex", transform=T.VALUE_MAP, argument={"female": "F"})
    add(mirror_field="custom_fields.level", remote_path="customFields#abc123")
    add(mirror_field="phone", remote_path="tel", transform=T.E164, direction="in")
    add(
        mirror_field="date_of_birth",
        remote_path="dob",
        transform=T.DATE,
        argument="%d/%m/%Y",
        position=9,
    )
    contact = ContactFactory(
        workspace=workspace,
        first_name="Ada",
        last_name="King Lovelace",
        email="Ada@Example.com",
        company_name="Engines",
        gender="female",
        phone="+15550100000",
        custom_fields={"level": "gold"},
        date_of_birth=datetime.date(1990, 9, 25),
    )
    assert to_remote(contact, conn) == {
        "name": "Ada King Lovelace",
        "contact": {"email": "ada@example.com"},
        "org": "Engines",
        "origin": "portal",
        "sex": "F",
        "customFields": [{"id": "abc123", "field_value": "gold"}],
        "dob": "25/09/1990",
        "dnd": False,  # defaults no row speaks for: still sent
        "tags": [],
    }
    back = from_remote(
        {
            "name": "Grace Brewster Hopper",
            "contact": {"email": "GRACE@EXAMPLE.COM"},
            "org": "  Navy ",
            "origin": "ignored",
            "sex": "F",
            "customFields": [{"id": "abc123", "value": "silver"}],
            "tel": "555 010 0001",
            "dob": "09/12/1906",
        },
        "contact",
        conn,
        instance=contact,
    )
    assert back == {
        "first_name": "Grace",
        "last_name": "Brewster Hopper",
        "email": "grace@example.com",
        "company_name": "Navy",
        "gender": "female",
        "custom_fields": {"level": "silver"},
        "phone": "+15550100001",
        "date_of_birth": datetime.date(1906, 12, 9),
    }


def test_a_custom_field_row_adds_to_the_defaults_and_leaves_the_rest_of_the_list(conn, workspace):
    FieldMappingFactory(
        connection=conn, mirror_field="custom_fields.loyalty_tier", remote_path="customFields#F1"
    )
    contact = ContactFactory(
        workspace=workspace,
        first_name="Ada",
        city="Paris",
        custom_fields={"loyalty_tier": "gold", "other": "x"},
    )
    payload = to_remote(contact, conn)
    assert payload["city"] == "Paris" and payload["firstName"] == "Ada"
    assert payload["customFields"] == [
        {"id": "other", "field_value": "x"},
        {"id": "F1", "field_value": "gold"},
    ]
    back = from_remote(
        {"customFields": [{"id": "F1", "value": "silver"}, {"id": "other", "value": "y"}]},
        "contact",
        conn,
        instance=contact,
    )
    assert back == {"custom_fields": {"loyalty_tier": "silver", "other": "y"}}


def test_bad_inbound_values_raise_clear_errors(conn):
    FieldMappingFactory(
        connection=conn, mirror_field="date_of_birth", remote_path="dob", transform=T.DATE
    )
    with pytest.raises(MappingError, match="not a valid date"):
        from_remote({"dob": "yesterday"}, "contact", conn)


def test_bad_phone_and_bad_value_map_raise(conn):
    FieldMappingFactory(connection=conn, mirror_field="phone", remote_path="p", transform=T.E164)
    FieldMappingFactory(
        connection=conn, mirror_field="gender", remote_path="g", transform=T.VALUE_MAP, argument=1
    )
    with pytest.raises(MappingError, match="p:"):
        from_remote({"p": "abc"}, "contact", conn)
    with pytest.raises(MappingError, match="value map"):
        from_remote({"g": "x"}, "contact", conn)


def test_unknown_object_type_is_refused(conn):
    with pytest.raises(ValueError, match="Unknown object type"):
        from_remote({}, "invoice", conn)


def test_payload_hash_ignores_key_order():
    assert payload_hash({"a": 1, "b": [1, 2]}) == payload_hash({"b": [1, 2], "a": 1})
    assert payload_hash({"a": 1}) != payload_hash({"a": 2})
