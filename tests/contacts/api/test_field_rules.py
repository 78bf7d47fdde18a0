"""Item 8 of issue 16: values that were accepted but wrong, a null bulk item, cursors."""

import datetime

import pytest
from django.utils import timezone

from contacts.models import Appointment
from tests.factories import AppointmentFactory, ContactFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/contacts/"


def error_details(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]["details"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"country": "ZZ"}, "country"),
        ({"country": "12"}, "country"),
        ({"timezone": "Not/AZone"}, "timezone"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"dnd": "yes"}, "dnd"),
        ({"dnd": 1}, "dnd"),
        ({"dnd": "true"}, "dnd"),
    ],
)
def test_wrong_values_are_400_naming_the_field(api, body, field):
    assert list(error_details(api.post(URL, body))) == [field]


def test_right_values_are_kept(api):
    yesterday = (timezone.now() - datetime.timedelta(days=1)).date().isoformat()
    body = {"country": "de", "timezone": "Europe/Berlin", "date_of_birth": yesterday, "dnd": True}
    response = api.post(URL, body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["country"], created["timezone"], created["dnd"]) == (
        "DE",
        body["timezone"],
        True,
    )


def test_a_task_boolean_is_strict_too(api, workspace):
    contact = ContactFactory(workspace=workspace)
    body = {"contact": contact.public_id, "title": "T", "completed": "on"}
    assert list(error_details(api.post("/api/v1/tasks/", body))) == ["completed"]


def test_an_appointment_cannot_end_before_it_starts(api, workspace):
    contact = ContactFactory(workspace=workspace)
    body = {
        "contact": contact.public_id,
        "calendar_id": "cal1",
        "start_time": "2030-01-01T10:00:00Z",
        "end_time": "2030-01-01T09:00:00Z",
    }
    assert list(error_details(api.post("/api/v1/appointments/", body), 422)) == ["end_time"]
    appointment = AppointmentFactory(
        workspace=workspace, contact=contact, start_time=timezone.now()
    )
    earlier = (appointment.start_time - datetime.timedelta(hours=1)).isoformat()
    response = api.patch(f"/api/v1/appointments/{appointment.public_id}/", {"end_time": earlier})
    assert list(error_details(response, 422)) == ["end_time"]
    assert Appointment.objects.get(pk=appointment.pk).end_time is None


def test_a_null_bulk_item_fails_alone(api):
    body = {"contacts": [{"first_name": "A"}, None, {"first_name": "B"}]}
    response = api.post(f"{URL}bulk/", body, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "created"]
    assert results[1]["errors"]


def test_an_empty_filter_is_400(api):
    for query in ("updated_since=", "email=", "cursor=", "include_deleted="):
        assert list(error_details(api.get(f"{URL}?{query}"))) == [query[:-1]]


def test_a_cursor_is_valid_only_for_its_endpoint_and_filters(api, workspace):
    for _ in range(3):
        ContactFactory(workspace=workspace, tags=["vip"])
    page = api.get(f"{URL}?limit=1&tag=vip").json()
    cursor = page["next_cursor"]
    assert api.get(f"{URL}?limit=2&tag=vip&cursor={cursor}").status_code == 200
    for other in (f"{URL}?tag=other&cursor={cursor}", f"{URL}?cursor={cursor}"):
        assert "cursor" in error_details(api.get(other))
    assert "cursor" in error_details(api.get(f"/api/v1/users/?cursor={cursor}"))
