"""Users keep their role, type and locations both ways (issue 14, item 8).

The users API answers them nested under `roles` (UserSchema) and takes them at the top level
(UpdateUserDto). A user backfilled from the spec's own example keeps them; renaming the user in
the portal sends a PUT that validates against users.json (the `crm` fixture) and carries only
the name, so nothing the mirror did not change can be overwritten at the CRM.
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from contacts.models import CrmUser
from contacts.services import user_create, user_update
from sync.engine.push import drain
from tests.specs import HIGHLEVEL_SPECS
from tests.sync.factories import CRM_BASE_URL as CRM
from tests.sync.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def spec_example(schema_name: str) -> dict:
    """An object built from the property examples of a users.json schema ($refs followed)."""
    spec = json.loads((HIGHLEVEL_SPECS / "apps" / "users.json").read_text())
    schemas = spec["components"]["schemas"]

    def build(schema: dict):
        if "$ref" in schema:
            return build(schemas[schema["$ref"].rsplit("/", 1)[1]])
        if "properties" in schema:
            built = {name: build(prop) for name, prop in schema["properties"].items()}
            return {name: value for name, value in built.items() if value is not None}
        return schema.get("example")

    return build(schemas[schema_name])


@pytest.fixture
def conn(workspace):
    return ConnectionFactory(workspace=workspace, slug="crm", company_id="comp1")


def test_a_backfilled_user_keeps_role_type_and_locations_and_a_rename_sends_only_the_name(
    crm, conn, workspace, actor
):
    remote = spec_example("UserSchema")
    assert remote["roles"]["role"] == "admin" and "role" not in remote  # nested, as documented
    crm.get(CRM + "/users/", json={"users": [remote]})
    call_command("backfill", "crm", "--objects", "users", stdout=StringIO())

    user = CrmUser.objects.get()
    assert (user.role, user.type, user.location_ids) == (
        "admin",
        "account",
        [workspace.location_id],
    )
    crm.put(CRM + f"/users/{remote['id']}", json={"id": remote["id"]})
    user_update(user, actor=actor, data={"first_name": "Jonathan"})
    drain()
    [put] = [c.request for c in crm.calls if c.request.method == "PUT"]
    assert put.url.endswith(f"/users/{remote['id']}")
    assert json.loads(put.body) == {"firstName": "Jonathan"}
    user.refresh_from_db()
    assert (user.role, user.location_ids) == ("admin", [workspace.location_id])


def test_a_new_user_is_created_with_its_role_at_the_top_level(crm, conn, workspace, actor):
    crm.post(CRM + "/users/", json={"id": "U9"})
    user_create(
        workspace=workspace,
        actor=actor,
        data={
            "email": "ops@example.com",
            "first_name": "Olga",
            "last_name": "Ops",
            "role": "admin",
            "location_ids": ["L1"],
        },
    )
    drain()
    [post] = [json.loads(c.request.body) for c in crm.calls if c.request.method == "POST"]
    assert (post["role"], post["type"], post["locationIds"]) == ("admin", "account", ["L1"])
    assert "roles" not in post
