"""Tests of the sandbox CRM (sandbox) against the CRM's official OpenAPI contract.

No Django database is needed: the sandbox is stdlib-only and runs on 127.0.0.1:0 per test.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from sandbox import SandboxCRM
from sandbox.ratelimit import RateLimiter
from tests.specs import HIGHLEVEL_SPECS

SPECS = HIGHLEVEL_SPECS
LOC = "SbxLocation000000001"
TOKEN = "sandbox-token"
CRM_HOST = "https://services.leadconnectorhq.com"  # the specs' server URL
VERSIONS = {"calendars": "2021-04-15"}  # every other spec file uses 2021-07-28
RATE_HEADERS = (
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
)

# The spec *documents* fail strict OpenAPI 3.0 validation (http security schemes carry
# `name`/`in`; calendars.json uses the 3.1 `examples` keyword). Those flaws don't affect the
# request/response schemas, so only the document check is skipped, not message validation.
_CONFIG = Config(spec_validator_cls=None)


def _load_spec(name: str) -> OpenAPI:
    path = SPECS / "apps" / f"{name}.json"
    if name not in SPEC_PATCHES:
        return OpenAPI.from_file_path(str(path), config=_CONFIG)
    # Load from a dict with the file's URI so ../common refs still resolve.
    data = json.loads(path.read_text())
    SPEC_PATCHES[name](data["components"]["schemas"])
    return OpenAPI.from_dict(data, config=_CONFIG, base_uri=path.as_uri())


def _patch_calendars(schemas: dict[str, Any]) -> None:
    """Spec flaw: CalendarEventDTO types startTime/endTime/dateAdded/dateUpdated as "object"
    while its own examples (and the real API) use ISO strings. Patch exactly those four."""
    props = schemas["CalendarEventDTO"]["properties"]
    for name_ in ("startTime", "endTime", "dateAdded", "dateUpdated"):
        props[name_] = {**props[name_], "type": "string"}


def _patch_locations(schemas: dict[str, Any]) -> None:
    """Spec flaw: the task search's response types each of `tasks` as an array; the CRM
    answers task objects. Patch exactly that item type."""
    schemas["LocationTaskListSuccessfulResponseDto"]["properties"]["tasks"]["items"] = {
        "type": "object"
    }


SPEC_PATCHES = {"calendars": _patch_calendars, "locations": _patch_locations}


@pytest.fixture(scope="module")
def specs() -> dict[str, OpenAPI]:
    names = ("contacts", "users", "calendars", "workflows", "courses", "locations")
    return {name: _load_spec(name) for name in names}


class _AsCRM(RequestsOpenAPIRequest):
    """Present a request to the sandbox as if it went to the CRM's documented server."""

    @property
    def host_url(self) -> str:
        return CRM_HOST


# -- webhook receiver -----------------------------------------------------------------------
class Receiver:
    """Tiny HTTP server recording webhook deliveries; answers with queued statuses."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []  # (lower-case headers, body)
        self.statuses: list[int] = []  # popped per delivery; 200 when empty
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.deliveries.append((headers, raw))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/crm"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(raw) for _, raw in self.deliveries]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events()]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


@pytest.fixture
def crm(tmp_path: Path, receiver: Receiver) -> Iterator[SandboxCRM]:
    sandbox = SandboxCRM(
        str(tmp_path / "crm.sqlite3"),
        port=0,
        token=TOKEN,
        location_id=LOC,
        webhook_url=receiver.url,
        public_key_out=str(tmp_path / "webhook-public.pem"),
        webhook_retry_delays=(0.05, 0.05, 0.05),
        seed=7,
    )
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


class Client:
    """Calls the sandbox and validates request and response against the spec file."""

    def __init__(self, crm: SandboxCRM, http: requests.Session, specs: dict[str, OpenAPI]):
        self.crm, self.http, self.specs = crm, http, specs

    def __call__(
        self,
        spec: str,
        method: str,
        path: str,
        status: int,
        *,
        validate_request: bool = True,
        **kwargs: Any,
    ) -> Any:
        headers = {"Authorization": f"Bearer {TOKEN}", "Version": VERSIONS.get(spec, "2021-07-28")}
        headers |= kwargs.pop("headers", {})
        req = requests.Request(method, self.crm.base_url + path, headers=headers, **kwargs)
        prepared = self.http.prepare_request(req)
        resp = self.http.send(prepared)
        assert resp.status_code == status, resp.text
        openapi_req = _AsCRM(prepared)
        if validate_request:
            self.specs[spec].validate_request(openapi_req)
        self.specs[spec].validate_response(openapi_req, RequestsOpenAPIResponse(resp))
        for name in RATE_HEADERS:
            assert resp.headers[name].isdigit(), name
        return resp.json() if resp.content else None


@pytest.fixture
def api(crm: SandboxCRM, http: requests.Session, specs: dict[str, OpenAPI]) -> Client:
    return Client(crm, http, specs)


def _get(http: requests.Session, crm: SandboxCRM, path: str, **headers: str) -> requests.Response:
    base = {"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"}
    return http.get(crm.base_url + path, headers={**base, **headers})


def _wait_for(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- contract: every endpoint validates against the official spec -------------------------
def test_contacts_endpoints_match_spec(api: Client) -> None:
    body = {"locationId": LOC, "firstName": "Rosan", "lastName": "Deo", "email": "r@deo.com"}
    created = api("contacts", "POST", "/contacts/", 201, json={**body, "tags": ["vip"]})
    contact = created["contact"]
    cid = contact["id"]
    assert len(cid) == 20 and cid.isalnum()
    assert contact["dateAdded"].endswith("Z") and len(contact["dateAdded"]) == 24

    got = api("contacts", "GET", f"/contacts/{cid}", 200)
    assert got["contact"]["email"] == "r@deo.com"
    updated = api("contacts", "PUT", f"/contacts/{cid}", 200, json={"phone": "+1 888-888-8888"})
    assert updated["succeded"] is True
    assert updated["contact"]["dateUpdated"] > contact["dateUpdated"]

    upsert = api("contacts", "POST", "/contacts/upsert", 200, json={**body, "city": "Dolomite"})
    assert upsert["new"] is False and upsert["contact"]["id"] == cid
    other = {"locationId": LOC, "email": "new@deo.com"}
    assert api("contacts", "POST", "/contacts/upsert", 200, json=other)["new"] is True

    listed = api("contacts", "GET", "/contacts/", 200, params={"locationId": LOC, "limit": 1})
    assert len(listed["contacts"]) == 1 and listed["meta"]["total"] == 2
    found = api("contacts", "POST", "/contacts/search", 200, json={"locationId": LOC})
    assert found["total"] == 2
    dup = api(
        "contacts",
        "GET",
        "/contacts/search/duplicate",
        200,
        params={"locationId": LOC, "number": "+18888888888"},
    )
    assert dup["contact"]["id"] == cid

    tags = api("contacts", "POST", f"/contacts/{cid}/tags", 201, json={"tags": ["a", "b"]})
    assert tags["tags"] == ["vip", "a", "b"]
    tags = api("contacts", "DELETE", f"/contacts/{cid}/tags", 200, json={"tags": ["VIP"]})
    assert tags["tags"] == ["a", "b"]

    assert api("contacts", "DELETE", f"/contacts/{cid}", 200) == {"succeded": True}
    missing = api("contacts", "GET", f"/contacts/{cid}", 400)
    assert missing == {"statusCode": 400, "message": "Contact not found"}


def test_tasks_and_notes_match_spec(api: Client) -> None:
    cid = api("contacts", "POST", "/contacts/", 201, json={"locationId": LOC})["contact"]["id"]
    base = f"/contacts/{cid}/tasks"
    task_body = {"title": "Call", "dueDate": "2030-01-01T10:00:00Z", "completed": False}
    task = api("contacts", "POST", base, 201, json=task_body)["task"]
    tid = task["id"]
    assert api("contacts", "GET", base, 200)["tasks"][0]["id"] == tid
    assert api("contacts", "GET", f"{base}/{tid}", 200)["task"]["title"] == "Call"
    task = api("contacts", "PUT", f"{base}/{tid}", 200, json={"body": "ring twice"})["task"]
    assert task["body"] == "ring twice"
    done = api("contacts", "PUT", f"{base}/{tid}/completed", 200, json={"completed": True})
    assert done["task"]["completed"] is True
    assert api("contacts", "DELETE", f"{base}/{tid}", 200) == {"succeded": True}
    bad = api("contacts", "POST", base, 422, json={"title": "x"}, validate_request=False)
    assert "dueDate should not be empty" in bad["message"]

    base = f"/contacts/{cid}/notes"
    note = api("contacts", "POST", base, 201, json={"body": "hello", "pinned": True})["note"]
    nid = note["id"]
    assert api("contacts", "GET", base, 200)["notes"][0]["body"] == "hello"
    assert api("contacts", "GET", f"{base}/{nid}", 200)["note"]["pinned"] is True
    assert (
        api("contacts", "PUT", f"{base}/{nid}", 200, json={"body": "bye"})["note"]["body"] == "bye"
    )
    assert api("contacts", "DELETE", f"{base}/{nid}", 200) == {"succeded": True}


def test_appointments_match_spec(api: Client) -> None:
    cid = api("contacts", "POST", "/contacts/", 201, json={"locationId": LOC})["contact"]["id"]
    body = {
        "calendarId": "CVokAlI8fgw4WYWoCtQz",
        "locationId": LOC,
        "contactId": cid,
        "startTime": "2030-06-23T03:30:00+05:30",
        "title": "Demo",
        "appointmentStatus": "confirmed",
    }
    created = api("calendars", "POST", "/calendars/events/appointments", 200, json=body)
    eid = created["id"]
    event = api("calendars", "GET", f"/calendars/events/appointments/{eid}", 200)["event"]
    assert event["endTime"].startswith("2030-06-23T04:00:00")
    changed = api(
        "calendars", "PUT", f"/calendars/events/appointments/{eid}", 200, json={"title": "Moved"}
    )
    assert changed["title"] == "Moved"
    events = api("contacts", "GET", f"/contacts/{cid}/appointments", 200)["events"]
    assert [e["id"] for e in events] == [eid]
    # The spec marks this DELETE's (empty) body as required, hence `json={}`; answers 201.
    deleted = api("calendars", "DELETE", f"/calendars/events/{eid}", 201, json={})
    assert deleted == {"succeeded": True}
    bad = api(
        "calendars",
        "POST",
        "/calendars/events/appointments",
        400,
        json={**body, "contactId": "nope"},
    )
    assert bad["message"] == "Contact not found"


def test_location_and_task_search_match_spec(api: Client, crm: SandboxCRM) -> None:
    crm.configure(timezone="Asia/Kolkata")
    location = api("locations", "GET", f"/locations/{LOC}", 200)["location"]
    assert (location["id"], location["timezone"]) == (LOC, "Asia/Kolkata")
    assert api("locations", "GET", "/locations/NoSuchLocation000001", 400)["message"]

    new = {"locationId": LOC}
    ids = [api("contacts", "POST", "/contacts/", 201, json=new)["contact"]["id"] for _ in "ab"]
    due = {"dueDate": "2030-01-01T10:00:00Z", "completed": False}
    made = [
        api("contacts", "POST", f"/contacts/{cid}/tasks", 201, json={"title": title, **due})
        for cid, title in ((ids[0], "Call"), (ids[0], "Email"), (ids[1], "Visit"))
    ]
    crm.seed_contacts(1, location_id="OtherLocation0000001")
    search = f"/locations/{LOC}/tasks/search"
    first = api("locations", "POST", search, 200, json={"limit": 2, "skip": 0})["tasks"]
    rest = api("locations", "POST", search, 200, json={"limit": 2, "skip": 2})["tasks"]
    assert [t["id"] for t in first + rest] == [m["task"]["id"] for m in made]
    assert {t["contactId"] for t in first + rest} == set(ids) and first[0]["title"] == "Call"
    mine = api("locations", "POST", search, 200, json={"contactId": [ids[1]]})["tasks"]
    assert [t["title"] for t in mine] == ["Visit"]
    texts = api("locations", "POST", search, 200, json={"query": "mail"})["tasks"]
    assert [t["title"] for t in texts] == ["Email"]
    too_many = api("locations", "POST", search, 422, json={"limit": 101})
    assert too_many["message"] == ["limit must not be greater than 100"]


def test_calendars_and_events_by_time_window_match_spec(api: Client, crm: SandboxCRM) -> None:
    crm.configure(timezone="Asia/Kolkata")  # UTC+05:30
    cid = api("contacts", "POST", "/contacts/", 201, json={"locationId": LOC})["contact"]["id"]
    body = {"locationId": LOC, "contactId": cid, "title": "Demo"}
    early = api(
        "calendars",
        "POST",
        "/calendars/events/appointments",
        200,
        json={**body, "calendarId": "CalendarA00000000001", "startTime": "2030-06-23T03:30:00Z"},
    )
    api(
        "calendars",
        "POST",
        "/calendars/events/appointments",
        200,
        json={**body, "calendarId": "CalendarB00000000001", "startTime": "2030-07-01T09:00:00Z"},
    )
    listed = api("calendars", "GET", "/calendars/", 200, params={"locationId": LOC})["calendars"]
    assert sorted(c["id"] for c in listed) == ["CalendarA00000000001", "CalendarB00000000001"]

    june = {"startTime": "1906000000000", "endTime": "1909000000000"}  # 2030-05-25 .. 06-29
    query = {"locationId": LOC, "calendarId": "CalendarA00000000001", **june}
    found = api("calendars", "GET", "/calendars/events", 200, params=query)["events"]
    assert [e["id"] for e in found] == [early["id"]]
    assert found[0]["startTime"] == "2030-06-23T03:30:00Z"  # events carry their offset
    other = {**query, "calendarId": "CalendarB00000000001"}
    assert api("calendars", "GET", "/calendars/events", 200, params=other)["events"] == []
    missing = {"locationId": LOC, "startTime": "0", "endTime": "1"}
    bad = api("calendars", "GET", "/calendars/events", 400, params=missing)
    assert bad["message"] == "Either of calendarId, userId or groupId is required"

    # The contact's own listing writes the location's wall clock, without an offset.
    events = api("contacts", "GET", f"/contacts/{cid}/appointments", 200)["events"]
    first = next(e for e in events if e["id"] == early["id"])
    assert (first["startTime"], first["endTime"]) == ("2030-06-23 09:00:00", "2030-06-23 09:30:00")


def test_users_workflows_courses_match_spec(api: Client) -> None:
    body = {
        "companyId": "SbxCompany0000000001",
        "firstName": "John",
        "lastName": "Deo",
        "email": "john@deo.com",
        "password": "secret-pass",
        "type": "account",
        "role": "admin",
        "locationIds": [LOC],
    }
    user = api("users", "POST", "/users/", 201, json=body)
    uid = user["id"]
    assert user["name"] == "John Deo" and "password" not in user
    assert [
        u["id"] for u in api("users", "GET", "/users/", 200, params={"locationId": LOC})["users"]
    ] == [uid]
    assert api("users", "GET", f"/users/{uid}", 200)["email"] == "john@deo.com"
    assert api("users", "PUT", f"/users/{uid}", 200, json={"firstName": "Jo"})["name"] == "Jo Deo"
    assert api("users", "DELETE", f"/users/{uid}", 200)["succeded"] is True

    flows = api("workflows", "GET", "/workflows/", 200, params={"locationId": LOC})["workflows"]
    assert len(flows) == 3
    cid = api("contacts", "POST", "/contacts/", 201, json={"locationId": LOC})["contact"]["id"]
    enrolled = api(
        "contacts",
        "POST",
        f"/contacts/{cid}/workflow/{flows[0]['id']}",
        200,
        json={"eventStartTime": "2030-06-23T03:30:00+01:00"},
    )
    assert enrolled == {"succeded": True}

    payload = {
        "locationId": LOC,
        "products": [{"title": "Course", "description": "d", "categories": []}],
    }
    result = api("courses", "POST", "/courses/courses-exporter/public/import", 201, json=payload)
    assert api.crm.get("courseImport", result["id"])["products"][0]["title"] == "Course"


def test_errors_match_spec(api: Client, crm: SandboxCRM, http: requests.Session) -> None:
    unauthorized = api(
        "contacts",
        "GET",
        "/contacts/",
        401,
        params={"locationId": LOC},
        headers={"Authorization": "Bearer wrong"},
    )
    assert unauthorized["error"] == "Unauthorized" and unauthorized["statusCode"] == 401
    resp = http.get(f"{crm.base_url}/contacts/", params={"locationId": LOC})
    assert resp.status_code == 401  # no Authorization header at all

    resp = http.get(f"{crm.base_url}/contacts/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 400 and "version" in resp.json()["message"]
    assert all(name in resp.headers for name in RATE_HEADERS)

    invalid = api(
        "contacts", "POST", "/contacts/", 422, json={"firstName": "x"}, validate_request=False
    )
    assert invalid["message"] == ["locationId should not be empty"]
    resp = http.post(
        f"{crm.base_url}/contacts/",
        data=b"{not json",
        headers={"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"},
    )
    assert resp.status_code == 400
    resp = _get(http, crm, "/no/such/path")
    assert resp.status_code == 404 and resp.json()["message"] == "Cannot GET /no/such/path"
    too_many = api("contacts", "GET", "/contacts/", 422, params={"locationId": LOC, "limit": 101})
    assert too_many["message"] == ["limit must not be greater than 100"]


# -- paging -------------------------------------------------------------------------------
def test_cursor_paging_returns_every_contact_exactly_once(api: Client, crm: SandboxCRM) -> None:
    # 250 seeded contacts share one dateAdded millisecond: ties must be broken by id.
    crm.seed_contacts(250)
    for i in range(3):
        api("contacts", "POST", "/contacts/", 201, json={"locationId": LOC, "email": f"{i}@x.io"})
    crm.seed_contacts(5, location_id="OtherLocation0000001")  # never listed for LOC
    expected = {c["id"] for c in crm.list("contact", LOC)}
    assert len(expected) == 253

    seen: list[str] = []
    params: dict[str, Any] = {"locationId": LOC, "limit": 100}
    pages = 0
    while True:
        page = api("contacts", "GET", "/contacts/", 200, params=params)
        pages += 1
        seen += [c["id"] for c in page["contacts"]]
        meta = page["meta"]
        assert meta["total"] == 253 and meta["currentPage"] == pages
        if "nextPageUrl" not in meta:
            assert "nextPage" not in meta  # the last page: no value, so no field (as the CRM)
            break
        assert meta["nextPageUrl"].startswith(f"{crm.base_url}/contacts/?")
        params |= {"startAfter": meta["startAfter"], "startAfterId": meta["startAfterId"]}
    assert pages == 3 and len(seen) == len(set(seen)) == 253 and set(seen) == expected

    # POST /contacts/search pages with searchAfter taken from the last contact.
    found: list[str] = []
    body: dict[str, Any] = {"locationId": LOC, "pageLimit": 60}
    while True:
        result = api("contacts", "POST", "/contacts/search", 200, json=body)
        found += [c["id"] for c in result["contacts"]]
        if len(result["contacts"]) < 60:
            break
        body["searchAfter"] = result["contacts"][-1]["searchAfter"]
    assert len(found) == len(set(found)) == 253 and set(found) == expected


def test_paging_counts_a_listing_once_until_the_next_write(api: Client, crm: SandboxCRM) -> None:
    """The stand-in's counts (total, rows before the cursor) are kept per listing until a
    write: paging 100,000 records counted them all again for every page, on the machine the
    backfill benchmark measures."""
    crm.seed_contacts(250)
    counts: list[str] = []
    crm.core.store._db.set_trace_callback(
        lambda sql: counts.append(sql) if sql.startswith("SELECT COUNT") else None
    )
    params: dict[str, Any] = {"locationId": LOC, "limit": 100}
    for expected_page in (1, 2, 3):
        meta = api("contacts", "GET", "/contacts/", 200, params=params)["meta"]
        assert (meta["total"], meta["currentPage"]) == (250, expected_page)
        params |= {"startAfter": meta.get("startAfter"), "startAfterId": meta.get("startAfterId")}
    assert len(counts) == 1  # the total, once: each page's position follows from the last
    api("contacts", "POST", "/contacts/", 201, json={"locationId": LOC, "email": "new@x.io"})
    meta = api("contacts", "GET", "/contacts/", 200, params={"locationId": LOC, "limit": 100})
    assert meta["meta"]["total"] == 251 and len(counts) == 2  # a write: counted again


def test_the_page_after_a_last_full_page_is_empty_and_carries_no_cursor(
    api: Client, crm: SandboxCRM
) -> None:
    crm.seed_contacts(100)
    first = api("contacts", "GET", "/contacts/", 200, params={"locationId": LOC, "limit": 100})
    meta = first["meta"]
    assert len(first["contacts"]) == 100 and meta["startAfterId"] and "nextPageUrl" not in meta
    params = {"locationId": LOC, "limit": 100, "startAfter": meta["startAfter"]}
    after = api(
        "contacts", "GET", "/contacts/", 200, params=params | {"startAfterId": meta["startAfterId"]}
    )
    assert after["contacts"] == []
    assert not {"startAfter", "startAfterId", "nextPage", "nextPageUrl"} & set(after["meta"])
    empty = api("contacts", "GET", "/contacts/", 200, params={"locationId": "EmptyLocation0000001"})
    assert empty["contacts"] == [] and empty["meta"] == {
        "total": 0,
        "currentPage": 1,
        "prevPage": None,
    }


def test_search_filters_on_date_updated(api: Client, crm: SandboxCRM) -> None:
    crm.seed_contacts(20)
    time.sleep(0.002)
    changed = crm.list("contact", LOC)[3]
    after = crm.update_contact(changed["id"], firstName="Changed")["dateUpdated"]
    body = {
        "locationId": LOC,
        "filters": [{"field": "dateUpdated", "operator": "range", "value": {"gte": after}}],
        "sort": [{"field": "dateUpdated", "direction": "desc"}],
    }
    result = api("contacts", "POST", "/contacts/search", 200, json=body)
    assert [c["id"] for c in result["contacts"]] == [changed["id"]] and result["total"] == 1
    by_email = {"field": "email", "operator": "eq", "value": "SEED4@example.com"}
    result = api(
        "contacts",
        "POST",
        "/contacts/search",
        200,
        json={
            "locationId": LOC,
            "filters": [by_email],
        },
    )
    assert [c["email"] for c in result["contacts"]] == ["seed4@example.com"]


# -- rate limiting ------------------------------------------------------------------------
def test_rate_limit_429_after_100_requests_in_window(crm: SandboxCRM, http: requests.Session):
    statuses = []
    for _ in range(101):
        resp = _get(http, crm, f"/contacts/?locationId={LOC}&limit=1")
        assert all(name in resp.headers for name in RATE_HEADERS)
        statuses.append(resp.status_code)
    assert statuses[:100] == [200] * 100 and statuses[100] == 429
    assert resp.headers["X-RateLimit-Max"] == "100"
    assert resp.headers["X-RateLimit-Remaining"] == "0"
    assert resp.headers["X-RateLimit-Interval-Milliseconds"] == "10000"
    assert 1 <= int(resp.headers["Retry-After"]) <= 10
    assert resp.json()["statusCode"] == 429
    # Another location has its own budget (the CRM counts per app and location).
    assert _get(http, crm, "/contacts/?locationId=Other").status_code == 200
    assert crm.stats()["rate_limited"] == 1


def test_rate_limit_window_and_daily_limit_over_http(
    crm: SandboxCRM, http: requests.Session
) -> None:
    crm.configure(rate_limit=3, window_ms=1000)
    codes = [_get(http, crm, "/workflows/?locationId=L").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = _get(http, crm, "/workflows/?locationId=L")
    assert resp.headers["Retry-After"] == "1"  # < 1 s left in the window, rounded up
    assert resp.headers["X-RateLimit-Interval-Milliseconds"] == "1000"
    crm.configure(rate_limit=0, daily_limit=5)
    codes = [_get(http, crm, "/workflows/?locationId=D").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    resp = _get(http, crm, "/workflows/?locationId=D")
    assert resp.headers["X-RateLimit-Daily-Remaining"] == "0"
    assert 1 <= int(resp.headers["Retry-After"]) <= 86_400  # until 00:00 UTC


def test_sliding_window_semantics() -> None:
    """Deterministic: the limiter takes an explicit clock."""
    limiter = RateLimiter(burst=3, daily=0, window_ms=1000)
    key = RateLimiter.key("t", "loc")
    assert [limiter.hit(key, now=t).allowed for t in (0.0, 0.2, 0.4, 0.5)] == [
        True,
        True,
        True,
        False,
    ]
    assert limiter.hit(key, now=0.5).retry_after == 1  # oldest hit leaves at 1.0
    blocked = limiter.hit(key, now=0.99)
    assert not blocked.allowed and blocked.headers["X-RateLimit-Remaining"] == "0"
    slid = limiter.hit(key, now=1.0)  # the hit at 0.0 has left the window
    assert slid.allowed and slid.headers["X-RateLimit-Remaining"] == "0"
    assert limiter.hit(key, now=1.25).allowed  # 0.2 left too
    assert limiter.hit(RateLimiter.key("t", "other"), now=1.25).allowed  # own bucket


def test_lifted_rate_limit_never_429s(crm: SandboxCRM, http: requests.Session) -> None:
    crm.configure(rate_limit=0, daily_limit=0)
    codes = {_get(http, crm, "/workflows/?locationId=L").status_code for _ in range(150)}
    assert codes == {200}


# -- fault injection ----------------------------------------------------------------------
def test_error_rate_and_latency(crm: SandboxCRM, http: requests.Session) -> None:
    crm.configure(error_rate=1.0)
    codes = [_get(http, crm, "/workflows/?locationId=L").status_code for _ in range(20)]
    assert set(codes) <= {500, 502, 503} and len(set(codes)) > 1
    assert crm.stats()["errors_injected"] == 20

    crm.configure(error_rate=0.5, seed=42)
    first = [_get(http, crm, "/workflows/?locationId=L").status_code for _ in range(20)]
    crm.configure(seed=42)
    again = [_get(http, crm, "/workflows/?locationId=L").status_code for _ in range(20)]
    assert first == again and 200 in first and set(first) - {200}

    crm.configure(error_rate=0, latency_ms=120)
    started = time.monotonic()
    assert _get(http, crm, "/workflows/?locationId=L").status_code == 200
    assert time.monotonic() - started >= 0.12


# -- webhooks -----------------------------------------------------------------------------
def test_random_429s_carry_retry_after(crm: SandboxCRM, http: requests.Session) -> None:
    crm.configure(throttle_rate=1.0)
    answer = _get(http, crm, "/workflows/?locationId=L")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    assert crm.stats()["throttled_injected"] == 1 and crm.stats()["rate_limited"] == 0


def test_a_timeout_fault_holds_the_request_and_still_carries_it_out(
    crm: SandboxCRM, http: requests.Session
) -> None:
    crm.configure(timeout_rate=1.0, timeout_ms=400)
    headers = {"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"}
    body = {"locationId": crm.config.location_id, "email": "slow@example.com"}
    with pytest.raises(requests.Timeout):
        http.post(crm.base_url + "/contacts/", json=body, headers=headers, timeout=0.1)
    _wait_for(lambda: len(crm.list("contact")) == 1)  # the write happened all the same
    assert crm.stats()["timeouts_injected"] == 1


@pytest.mark.parametrize("name", ["throttle_rate", "timeout_rate"])
def test_fault_rates_are_shares(crm: SandboxCRM, name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be between 0 and 1"):
        crm.configure(**{name: 1.5})


def _verify(crm_key_path: Path, headers: dict[str, str], raw: bytes) -> None:
    public_key = load_pem_public_key(crm_key_path.read_bytes())
    assert headers["content-type"] == "application/json"
    public_key.verify(base64.b64decode(headers["x-ghl-signature"]), raw)  # raises if invalid


def _check_event_schema(event: dict[str, Any]) -> None:
    doc = json.loads((SPECS / "webhooks" / f"{event['type']}.json").read_text())
    if "schema" in doc:
        jsonschema.validate(event, doc["schema"])
    assert set(doc["example"]) - {"description"} <= set(event) | _OPTIONAL_EVENT_KEYS
    assert uuid.UUID(event["webhookId"]).version == 4
    assert datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).tzinfo


# Example keys the sandbox leaves out when it has no value for them.
_OPTIONAL_EVENT_KEYS = {
    "address1",
    "city",
    "state",
    "companyName",
    "country",
    "dateOfBirth",
    "postalCode",
    "website",
    "assignedTo",
    "phone",
    "name",
    "firstName",
    "lastName",
    "email",
    "notes",
    "address",
    "assignedUserId",
    "extension",
    "customFields",
    "tags",
}


def test_webhooks_signed_and_shaped_like_the_crm(
    api: Client, crm: SandboxCRM, receiver: Receiver, tmp_path: Path
) -> None:
    body = {"locationId": LOC, "firstName": "Ann", "email": "ann@x.io"}
    cid = api("contacts", "POST", "/contacts/", 201, json=body)["contact"]["id"]
    api("contacts", "PUT", f"/contacts/{cid}", 200, json={"tags": ["hot"], "dnd": True})
    task = {"title": "T", "dueDate": "2030-01-01T00:00:00Z", "completed": False, "body": "b"}
    tid = api("contacts", "POST", f"/contacts/{cid}/tasks", 201, json=task)["task"]["id"]
    api("contacts", "PUT", f"/contacts/{cid}/tasks/{tid}/completed", 200, json={"completed": True})
    api("contacts", "DELETE", f"/contacts/{cid}/tasks/{tid}", 200)
    nid = api("contacts", "POST", f"/contacts/{cid}/notes", 201, json={"body": "n"})["note"]["id"]
    api("contacts", "PUT", f"/contacts/{cid}/notes/{nid}", 200, json={"body": "m"})
    api("contacts", "DELETE", f"/contacts/{cid}/notes/{nid}", 200)
    appt = {"calendarId": "c", "locationId": LOC, "contactId": cid, "startTime": "2030-01-01"}
    eid = api("calendars", "POST", "/calendars/events/appointments", 200, json=appt)["id"]
    api("calendars", "PUT", f"/calendars/events/appointments/{eid}", 200, json={"title": "x"})
    api("calendars", "DELETE", f"/calendars/events/{eid}", 201, json={})
    user = {
        "companyId": "c",
        "firstName": "U",
        "lastName": "V",
        "email": "u@v.io",
        "password": "pw",
        "type": "account",
        "role": "user",
        "locationIds": [LOC],
    }
    api("users", "POST", "/users/", 201, json=user)
    api("contacts", "DELETE", f"/contacts/{cid}", 200)

    assert crm.wait_webhooks()
    assert receiver.types() == [
        "ContactCreate",
        "ContactUpdate",
        "ContactTagUpdate",
        "ContactDndUpdate",
        "TaskCreate",
        "TaskComplete",
        "TaskDelete",
        "NoteCreate",
        "NoteUpdate",
        "NoteDelete",
        "AppointmentCreate",
        "AppointmentUpdate",
        "AppointmentDelete",
        "UserCreate",
        "ContactDelete",
    ]
    for headers, raw in receiver.deliveries:
        _verify(tmp_path / "webhook-public.pem", headers, raw)
        _check_event_schema(json.loads(raw))
    events = receiver.events()
    assert events[2]["tags"] == ["hot"] and events[4]["contactId"] == cid
    assert events[10]["appointment"]["contactId"] == cid and events[10]["locationId"] == LOC
    assert len({e["webhookId"] for e in events}) == len(events)
    assert crm.stats()["webhooks_sent"] == len(events)
    # The key is generated once and kept next to the SQLite file.
    assert (tmp_path / "crm-webhook-ed25519.pem").exists()
    assert crm.public_key_pem == (tmp_path / "webhook-public.pem").read_text()


def test_webhook_retried_only_on_429(crm: SandboxCRM, receiver: Receiver) -> None:
    receiver.statuses = [429, 429, 200]
    crm.create_contact(firstName="Retry")
    assert crm.wait_webhooks()
    raws = [raw for _, raw in receiver.deliveries]
    assert len(raws) == 3 and len(set(raws)) == 1  # the same signed delivery, re-sent
    stats = crm.stats()
    assert (stats["webhooks_sent"], stats["webhooks_retried"], stats["webhooks_failed"]) == (
        1,
        2,
        0,
    )

    receiver.statuses = [500]
    crm.create_contact(firstName="Dropped")
    assert crm.wait_webhooks()
    assert len(receiver.deliveries) == 4  # a 500 is final: not retried
    receiver.statuses = [429] * 4
    crm.create_contact(firstName="GivesUp")
    assert crm.wait_webhooks()
    assert len(receiver.deliveries) == 8  # first try + 3 configured retries
    assert crm.stats()["webhooks_failed"] == 2


def test_webhooks_disabled_without_url(crm: SandboxCRM, receiver: Receiver) -> None:
    crm.configure(webhook_url="")
    crm.create_contact(firstName="Quiet")
    assert crm.wait_webhooks() and receiver.deliveries == []


# -- HTML page & control endpoints -------------------------------------------------------
def test_html_page_edit_fires_contact_update(
    crm: SandboxCRM, receiver: Receiver, http: requests.Session, tmp_path: Path
) -> None:
    contact = crm.create_contact(firstName="Page", lastName="Person", tags=["a"])
    page = http.get(crm.base_url + "/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Page" in page.text and contact["id"] in page.text
    edit = http.get(crm.base_url + "/", params={"edit": contact["id"]})
    assert f'action="/_sandbox/ui/contacts/{contact["id"]}"' in edit.text

    form = {
        "firstName": "Edited",
        "lastName": "Person",
        "email": "e@x.io",
        "phone": "",
        "tags": "a, b",
    }
    resp = http.post(
        f"{crm.base_url}/_sandbox/ui/contacts/{contact['id']}", data=form, allow_redirects=False
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    stored = crm.get_contact(contact["id"])
    assert (stored["firstName"], stored["email"], stored["tags"]) == (
        "Edited",
        "e@x.io",
        ["a", "b"],
    )
    assert crm.wait_webhooks()
    update = [e for e in receiver.events() if e["type"] == "ContactUpdate"][-1]
    assert update["id"] == contact["id"] and update["firstName"] == "Edited"
    _verify(tmp_path / "webhook-public.pem", *receiver.deliveries[-2])

    resp = http.post(f"{crm.base_url}/_sandbox/ui/contacts", data={"firstName": "New"})
    assert resp.status_code == 200 and "New" in resp.text  # followed the redirect
    assert crm.wait_webhooks() and receiver.types()[-1] == "ContactCreate"


def test_control_endpoints(crm: SandboxCRM, http: requests.Session) -> None:
    crm.seed_contacts(3)
    assert _get(http, crm, "/contacts/?locationId=" + LOC).status_code == 200
    stats = http.get(crm.base_url + "/_sandbox/stats").json()
    assert stats["requests"] == 1 and stats["objects"] == {"contact": 3}
    config = http.post(
        crm.base_url + "/_sandbox/config",
        json={
            "latency_ms": 5,
            "error_rate": 0.25,
            "rate_limit": 7,
            "daily_limit": 9,
            "webhook_url": "http://127.0.0.1:9/x",
        },
    ).json()
    assert config["rate_limit"] == 7 and config["error_rate"] == 0.25
    bad = http.post(crm.base_url + "/_sandbox/config", json={"error_rate": 2})
    assert bad.status_code == 400
    assert http.post(crm.base_url + "/_sandbox/reset").json() == {"reset": True}
    stats = http.get(crm.base_url + "/_sandbox/stats").json()
    assert stats["requests"] == 0 and stats["objects"] == {}
    assert "BEGIN PUBLIC KEY" in http.get(crm.base_url + "/_sandbox/public-key").text


def test_state_survives_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "state.sqlite3")
    with SandboxCRM(db) as first:
        ids = [c["id"] for c in first.seed_contacts(4)]
        key = first.public_key_pem
    with SandboxCRM(db) as second:
        assert sorted(c["id"] for c in second.list()) == sorted(ids)
        assert second.public_key_pem == key


def test_token_never_logged(crm: SandboxCRM, http: requests.Session, caplog) -> None:
    with caplog.at_level("INFO", logger="sandbox_crm"):
        _get(http, crm, "/workflows/?locationId=L")
    lines = [r.getMessage() for r in caplog.records if r.name == "sandbox_crm"]
    assert any(line.startswith("GET /workflows/?locationId=L 200 ") for line in lines)
    assert all(TOKEN not in line for line in lines)


# -- management command ------------------------------------------------------------------
def test_management_command_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    pub = tmp_path / "pub.pem"
    cmd = [
        sys.executable,
        "manage.py",
        "run_sandbox_crm",
        "--port",
        "0",
        "--db",
        str(tmp_path / "cmd.sqlite3"),
        "--public-key-out",
        str(pub),
        "--seed-contacts",
        "2",
        "--rate-limit",
        "0",
    ]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Sandbox CRM on http://127.0.0.1:"), proc.stderr.read()
        base = line.split()[3]
        resp = requests.get(
            f"{base}/contacts/?locationId={LOC}",
            headers={"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"},
            timeout=30,
        )
        assert len(resp.json()["contacts"]) == 2 and pub.exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        # Generous bounds: a loaded CI machine may take a while to start and stop Django.
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped" in out, err
