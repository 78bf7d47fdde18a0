"""The one inbound policy, decision by decision (sync/inbound/policy.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact, CrmUser
from sync.inbound.policy import CREATE, DELETE, UPDATE, clamped, merge, permission_errors, refusal
from sync.inbound.snapshot import Known
from sync.models import Connection, Direction

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
T1, T2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)


def contact(**fields) -> Contact:
    return Contact(**{"phone": "+15550100001", "city": "Oldtown", "source_updated_at": T1,
                      **fields})  # fmt: skip


def test_the_remote_changed_field_is_taken_and_the_mirrors_own_change_kept():
    here = contact()
    here.city = "Newcity"  # changed here, not pushed yet
    known = {"phone": Known("+15550100001", T0), "city": Known("Oldtown", T0)}
    decision = merge(here, {"phone": "+15550100002", "city": "Oldtown"}, known, T0)
    assert decision.take == {"phone": "+15550100002"} and not decision.kept


def test_a_field_older_than_what_the_remote_is_known_to_hold_is_stale():
    known = {"city": Known("Newcity", T2)}  # we pushed it at T2
    decision = merge(contact(city="Newcity"), {"city": "Oldtown"}, known, T1)
    assert decision.stale == ["city"] and decision.outdated


def test_both_changed_the_same_field_the_newest_wins():
    known = {"city": Known("Oldtown", T0)}
    here = contact(city="Here")  # changed at T1
    assert merge(here, {"city": "There"}, known, T0 + timedelta(minutes=30)).kept == ["city"]
    assert merge(here, {"city": "There"}, known, T2).take == {"city": "There"}
    assert merge(here, {"city": "There"}, known, T0, wins=True).take == {"city": "There"}


def test_the_echo_of_what_we_pushed_takes_nothing():
    known = {"city": Known("Newcity", T1), "phone": Known("+15550100001", T1)}
    decision = merge(contact(city="Newcity"), {"city": "Newcity", "phone": "+1 555 010 0001"},
                     known, T2)  # fmt: skip
    assert not decision.take and not decision.seen and not decision.outdated


def test_a_far_future_time_is_clamped(settings):
    settings.WEBHOOK_TOLERANCE_SECONDS = 300
    assert clamped(datetime(9999, 12, 31, tzinfo=UTC)) <= timezone.now() + timedelta(seconds=301)
    assert clamped(T0) == T0 and clamped(None) is None
    assert clamped(T0.replace(tzinfo=None)) == T0  # a listing's time without offset is UTC


def partner(**fields) -> Connection:
    return Connection(provider="webhook", **fields)


def test_partner_defaults_create_and_update_contacts_only():
    assert refusal(partner(), "contact", CREATE, None, {"first_name": "A"}) == ""
    assert "may not delete contacts" in refusal(partner(), "contact", DELETE, contact(), {})
    assert "may not create tasks" in refusal(partner(), "task", CREATE, None, {"title": "x"})
    off = partner(contacts_direction=Direction.OUT)
    assert "contacts direction is 'out'" in refusal(off, "contact", UPDATE, contact(), {})


def test_a_create_is_judged_on_what_it_sets_not_the_empty_fields_a_listing_names():
    limited = partner(inbound_permissions={"contact": {"operations": ["create"],
                                                       "fields": ["first_name"]}})  # fmt: skip
    assert refusal(limited, "contact", CREATE, None, {"first_name": "A", "city": ""}) == ""
    assert "city" in refusal(limited, "contact", CREATE, None, {"first_name": "A", "city": "X"})


def test_privileged_user_fields_need_the_flag_or_the_crm():
    grants = {"user": {"operations": ["create", "update"], "fields": "*"}}
    user = CrmUser(email="owner@example.com")
    assert "role" in refusal(partner(inbound_permissions=grants), "user", CREATE, None,
                             {"email": "e@example.com", "role": "admin"})  # fmt: skip
    assert "email" in refusal(partner(inbound_permissions=grants), "user", UPDATE, user,
                              {"email": "eve@example.com"})  # fmt: skip
    flagged = partner(inbound_permissions=grants, may_write_privileged_user_fields=True)
    assert refusal(flagged, "user", UPDATE, user, {"email": "eve@example.com"}) == ""
    crm = Connection(provider="highlevel")
    assert refusal(crm, "user", CREATE, None, {"role": "admin", "type": "agency"}) == ""


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ([], "Enter an object"),
        ({"invoice": {}}, "Unknown object type"),
        ({"task": {"operations": ["erase"]}}, "operations are a list"),
        ({"task": {"operations": ["create"], "fields": ["nope"]}}, "fields are"),
    ],
)
def test_bad_grants_are_explained(value, error):
    assert any(error in message for message in permission_errors(value))
    assert permission_errors({"task": {"operations": ["create"], "fields": ["title"]}}) == []
