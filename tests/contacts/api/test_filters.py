"""List filters: updated_since (with tombstones), email, tag, contact, include_deleted."""

import datetime
from urllib.parse import urlencode

import pytest
from django.test import override_settings
from django.utils import timezone

from contacts.services import contact_delete
from tests.factories import TEST_ACTOR, ContactFactory, CrmUserFactory, TaskFactory

pytestmark = pytest.mark.django_db


def ids(api, url: str) -> list[str]:
    response = api.get(url)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("vip", ["a", "c"]), ("vip-gold", ["b"]), ('say "hi"', ["c"]), ("VIP", []), ("vi", [])],
)
def test_tag_is_an_exact_member_of_the_list(api, workspace, tag, expected):
    named = {
        "a": ContactFactory(workspace=workspace, tags=["vip", "lead"]),
        "b": ContactFactory(workspace=workspace, tags=["vip-gold"]),
        "c": ContactFactory(workspace=workspace, tags=['say "hi"', "vip"]),
        "d": ContactFactory(workspace=workspace, tags=[]),
    }
    wanted = sorted(named[name].public_id for name in expected)
    assert sorted(ids(api, f"/api/v1/contacts/?{_q('tag', tag)}")) == wanted


def _q(name: str, value: str) -> str:
    return urlencode({name: value})


def test_email_matches_case_insensitively(api, workspace):
    jane = ContactFactory(workspace=workspace, email="Jane@Example.com")
    ContactFactory(workspace=workspace, email="john@example.com")
    user = CrmUserFactory(workspace=workspace, email="Boss@example.com")
    assert ids(api, "/api/v1/contacts/?email=JANE@example.COM") == [jane.public_id]
    assert ids(api, "/api/v1/users/?email=boss@EXAMPLE.com") == [user.public_id]


def test_contact_filter_on_children(api, workspace):
    ann, bob = ContactFactory.create_batch(2, workspace=workspace)
    task = TaskFactory(workspace=workspace, contact=ann)
    TaskFactory(workspace=workspace, contact=bob)
    assert ids(api, f"/api/v1/tasks/?contact={ann.public_id}") == [task.public_id]
    assert ids(api, "/api/v1/tasks/?contact=ct_unknown") == []


def test_filters_only_where_they_mean_something(api):
    response = api.get("/api/v1/tasks/?tag=vip")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"tag": ["Unknown query parameter."]}


@override_settings(API_SYNC_LAG_SECONDS=0)
def test_deleted_objects_show_with_updated_since_or_include_deleted(api, workspace):
    kept = ContactFactory(workspace=workspace)
    gone = ContactFactory(workspace=workspace)
    since = (timezone.now() - datetime.timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    contact_delete(gone, actor=TEST_ACTOR)
    assert ids(api, "/api/v1/contacts/") == [kept.public_id]
    assert ids(api, "/api/v1/contacts/?include_deleted=true") == [kept.public_id, gone.public_id]
    rows = api.get(f"/api/v1/contacts/?updated_since={since}").json()["results"]
    assert {row["id"]: row["deleted_at"] is not None for row in rows} == {
        kept.public_id: False,
        gone.public_id: True,
    }
    later = timezone.now().isoformat().replace("+00:00", "Z")
    assert ids(api, f"/api/v1/contacts/?updated_since={later}") == []
