"""Keyset pagination: each row exactly once while rows change between pages."""

import datetime
from collections import Counter

import pytest
from django.test import override_settings
from django.utils import timezone

from contacts.models import Contact
from contacts.services import contact_update
from tests.factories import TEST_ACTOR, ContactFactory

pytestmark = pytest.mark.django_db
ROWS = 2000


@pytest.fixture
def many_contacts(api):
    for start in range(0, ROWS, 1000):
        items = [{"email": f"c{i}@example.com"} for i in range(start, min(start + 1000, ROWS))]
        assert api.post("/api/v1/contacts/bulk/", {"contacts": items}).json()["failed"] == 0
    return list(Contact.objects.order_by("id").values_list("public_id", flat=True))


def walk(api, url: str, on_page=None) -> tuple[list[str], dict]:
    seen, pages, page = [], 0, None
    while url:
        page = api.get(url).json()
        seen.extend(row["id"] for row in page["results"])
        pages += 1
        if on_page:
            on_page(pages)
        url = page["next"]
    return seen, page


def touch(public_ids: list[str], label: str) -> None:
    for contact in Contact.objects.filter(public_id__in=public_ids):
        contact_update(contact, actor=TEST_ACTOR, data={"last_name": label})


@pytest.mark.parametrize("query", ["", "&updated_since=2000-01-01T00:00:00Z"])
@override_settings(API_SYNC_LAG_SECONDS=0)
def test_each_row_exactly_once_while_rows_are_updated(api, many_contacts, query):
    ids = many_contacts
    touched = set()

    def update_some(page_number: int) -> None:
        # Rows already returned and rows still ahead both change between pages.
        behind = ids[(page_number - 1) * 200 : (page_number - 1) * 200 + 5]
        ahead = ids[page_number * 200 + 300 : page_number * 200 + 305]
        touch(behind + ahead, f"page {page_number}")
        touched.update(behind + ahead)

    seen, last = walk(api, f"/api/v1/contacts/?limit=200{query}", update_some)
    assert Counter(seen).most_common(1)[0][1] == 1
    assert seen == ids
    assert last["next"] is None and last["next_cursor"] is None
    # The next sync pass, from the time this one began, brings exactly what changed during it.
    since = last["next_updated_since"].replace("+00:00", "Z")
    second_pass, _ = walk(api, f"/api/v1/contacts/?limit=500&updated_since={since}")
    assert sorted(second_pass) == sorted(touched)


@override_settings(API_SYNC_LAG_SECONDS=5)
def test_the_next_sync_starts_before_the_pass_began(api):
    before = timezone.now()
    page = api.get("/api/v1/contacts/").json()
    after = timezone.now()
    since = datetime.datetime.fromisoformat(page["next_updated_since"])
    lag = datetime.timedelta(seconds=5)
    assert before - lag <= since <= after - lag


def test_a_cursor_cannot_be_forged(api, workspace):
    ContactFactory.create_batch(3, workspace=workspace)
    page = api.get("/api/v1/contacts/?limit=1").json()
    tampered = page["next_cursor"][:-2] + ("AA" if not page["next_cursor"].endswith("AA") else "BB")
    response = api.get(f"/api/v1/contacts/?cursor={tampered}")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"cursor": ["Invalid cursor."]}
