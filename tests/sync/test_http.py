import pytest
import requests
import responses

from sync.models import DeliveryAttempt
from sync.transport.http import HttpClient, RemoteError, parse_retry_after
from sync.transport.ratelimit import limiter_for
from tests.sync.factories import CRM_BASE_URL, ConnectionFactory

pytestmark = pytest.mark.django_db
URL = CRM_BASE_URL + "/contacts/abc"
TOKEN = "pit-test-secret-token-0001"


@pytest.fixture
def client():
    conn = ConnectionFactory()
    return HttpClient(conn, auth=lambda: {"Authorization": f"Bearer {TOKEN}"})


@responses.activate
def test_success_records_a_redacted_attempt(client):
    responses.put(URL, json={"contact": {"id": "abc"}, "access_token": "tok-secret"})
    response = client.request("PUT", "/contacts/abc", json={"email": "a@b.c", "apiKey": "k-1"})
    assert response.json()["contact"]["id"] == "abc"
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.method, attempt.path, attempt.status_code, attempt.outcome) == (
        "PUT",
        "/contacts/abc",
        200,
        "ok",
    )
    stored = attempt.request_excerpt + attempt.response_excerpt
    assert "a@b.c" in stored
    for secret in (TOKEN, "k-1", "tok-secret"):
        assert secret not in stored
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (422, True),
        (410, True),
        (408, False),
        (409, False),
        (429, False),
        (500, False),
        (502, False),
        (503, False),
        (504, False),
    ],
)
@responses.activate
def test_status_classification(client, status, permanent):
    responses.put(URL, json={"message": "nope"}, status=status)
    with pytest.raises(RemoteError) as exc:
        client.request("PUT", "/contacts/abc", json={})
    assert exc.value.permanent is permanent and exc.value.status == status
    assert "nope" in exc.value.message
    assert DeliveryAttempt.objects.get().outcome == ("permanent" if permanent else "retryable")


@responses.activate
def test_429_retry_after_is_carried_and_pauses_the_shared_limiter(client):
    responses.put(URL, status=429, headers={"Retry-After": "30"})
    with pytest.raises(RemoteError) as exc:
        client.request("PUT", "/contacts/abc", json={})
    assert exc.value.retry_after == 30 and not exc.value.permanent
    assert limiter_for(client.connection).try_acquire() > 29


@responses.activate
def test_rate_limit_headers_pause_when_nothing_remains(client):
    responses.get(
        URL,
        json={},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Interval-Milliseconds": "10000"},
    )
    client.request("GET", "/contacts/abc")
    assert 9 < limiter_for(client.connection).try_acquire() <= 10


@responses.activate
def test_nothing_remaining_when_our_window_is_full_adds_no_pause():
    conn = ConnectionFactory(rate_limit_requests=2, rate_limit_interval_seconds=1)
    client = HttpClient(conn, auth=dict)
    remaining = iter(["1", "0"])
    responses.add_callback(
        responses.GET,
        URL,
        callback=lambda request: (
            200,
            {
                "X-RateLimit-Remaining": next(remaining),
                "X-RateLimit-Interval-Milliseconds": "10000",
            },
            "{}",
        ),
    )
    client.request("GET", "/contacts/abc")
    client.request("GET", "/contacts/abc")
    # The remote's count agrees with ours: the next call waits for our 1 s window, not 10 s.
    assert 0 < limiter_for(conn).try_acquire() <= 1.0


@responses.activate
def test_daily_quota_header_pauses_until_the_next_utc_day(client):
    responses.get(URL, json={}, headers={"X-RateLimit-Daily-Remaining": "0"})
    client.request("GET", "/contacts/abc")
    assert 0 < limiter_for(client.connection).try_acquire() <= 86400


@responses.activate
def test_redirects_are_not_followed(client):
    responses.get(URL, status=302, headers={"Location": "http://169.254.169.254/"})
    with pytest.raises(RemoteError, match="redirects are not followed") as exc:
        client.request("GET", "/contacts/abc")
    assert exc.value.permanent and len(responses.calls) == 1


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectTimeout("connect timeout"),
        requests.ReadTimeout("read timeout"),
        requests.ConnectionError("Connection reset by peer"),
    ],
)
@responses.activate
def test_timeouts_and_resets_are_retryable(client, failure):
    responses.put(URL, body=failure)
    with pytest.raises(RemoteError) as exc:
        client.request("PUT", "/contacts/abc", json={})
    assert not exc.value.permanent and exc.value.status is None
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "retryable" and attempt.status_code is None
    assert str(failure) in attempt.error


def test_timeouts_are_bounded(client, monkeypatch):
    seen = {}

    def fake_request(method, url, **kwargs):
        seen.update(kwargs)
        raise requests.ConnectTimeout("x")

    monkeypatch.setattr("sync.transport.http._GUARDED_SESSION.request", fake_request)  # the CRM too
    with pytest.raises(RemoteError):
        client.request("GET", "/contacts/abc")
    connect, read = seen["timeout"]
    assert connect <= 30 and read <= 30 and seen["allow_redirects"] is False


@responses.activate
def test_sandbox_sends_nothing_but_records_what_it_would_send():
    client = HttpClient(ConnectionFactory(dry_run=True))
    response = client.request("POST", "/contacts/", json={"email": "a@b.c"})
    assert response.dry_run and len(responses.calls) == 0
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "dry_run" and "a@b.c" in attempt.request_excerpt


@responses.activate
def test_local_rate_limit_becomes_a_retryable_error(client, settings):
    settings.SYNC_RATE_LIMIT_WAIT_SECONDS = 0.05
    limiter_for(client.connection).pause(20)
    with pytest.raises(RemoteError) as exc:
        client.request("GET", "/contacts/abc")
    assert not exc.value.permanent and exc.value.retry_after > 19
    assert len(responses.calls) == 0


def test_retry_after_formats():
    assert parse_retry_after("12") == 12
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert 0 <= parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") < 1


def test_the_read_timeout_is_a_setting(client, monkeypatch, settings):
    seen = {}

    def fake_request(method, url, **kwargs):
        seen.update(kwargs)
        raise requests.ReadTimeout("x")

    settings.SYNC_READ_TIMEOUT_SECONDS = 2.5
    monkeypatch.setattr("sync.transport.http._GUARDED_SESSION.request", fake_request)  # the CRM too
    with pytest.raises(RemoteError):
        client.request("GET", "/contacts/abc")
    assert seen["timeout"][1] == 2.5


def test_an_excerpt_of_a_long_page_redacts_only_its_head_and_reads_the_same():
    import json

    from sync.transport.http import EXCERPT_LIMIT, excerpt, redact

    token = "tok_" + "Z" * 60

    def mask(text: str) -> str:
        return text.replace(token, "••••••")

    records = [
        {"id": f"c{n}", "email": f"p{n}@example.com", "apiKey": f"k{n}", "note": token, "n": n}
        for n in range(300)
    ]
    page = {"contacts": records, "meta": {"total": 300, "password": "hunter2"}}

    def whole(body) -> str:  # the whole body redacted, then masked and cut
        return mask(json.dumps(redact(body), default=str, ensure_ascii=False))[:EXCERPT_LIMIT]

    assert excerpt(page, mask) == excerpt(json.dumps(page), mask) == whole(page)
    assert excerpt(records, mask) == whole(records)
    short = excerpt(page, mask)
    assert len(short) == EXCERPT_LIMIT and token not in short and "k0" not in short


PAGE = '{"contacts": [{"id": "c1", "apiKey": "k-1"}], "meta": {"total": 1}}'


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (PAGE, "application/json"),
        ('  [{"id": "c1"}, {"id": "c2"}]', "application/json"),
        ('"just a string"', "application/json"),
        ("null", "application/json"),
        ("<html>Bad gateway</html>", "text/html"),
        ("{not json", "application/json"),
    ],
)
@responses.activate
def test_the_response_excerpt_is_that_of_the_body_as_received(client, body, content_type):
    from sync.transport.http import excerpt

    responses.get(URL, body=body, content_type=content_type)
    client.request("GET", "/contacts/abc")
    assert DeliveryAttempt.objects.get().response_excerpt == excerpt(body, client.mask)


@responses.activate
def test_a_page_is_parsed_once_for_its_excerpt_and_its_caller(client, monkeypatch):
    import json

    from sync.transport import http

    responses.get(URL, body=PAGE, content_type="application/json")
    parses: list[str] = []
    loads = json.loads

    def counted(text, *args, **kwargs):
        parses.append(text)
        return loads(text, *args, **kwargs)

    monkeypatch.setattr(http.json, "loads", counted)
    response = client.request("GET", "/contacts/abc")
    first = response.json()
    assert first == loads(PAGE) and parses.count(PAGE) == 1  # the excerpt's parse, handed over
    first.clear()  # a caller may change what it got: a later call parses again
    assert response.json() == loads(PAGE) and parses.count(PAGE) == 2
    assert "k-1" not in DeliveryAttempt.objects.get().response_excerpt
