"""LeanSession: each call sent as given: no cookie jar, no ~/.netrc, no redirect, the
environment's proxies looked up once per host."""

import pytest
import requests
import responses

from sync.transport.lean_session import LeanSession

URL = "https://partner.example/events"


@responses.activate
def test_a_cookie_a_remote_sets_is_never_sent_back():
    responses.post(URL, json={}, headers={"Set-Cookie": "session=tenant-a; Path=/"})
    session = LeanSession()
    session.request("POST", URL, json={"n": 1}, timeout=5)
    session.request("POST", URL, json={"n": 2}, timeout=5)
    assert "Cookie" not in responses.calls[1].request.headers
    assert len(session.cookies) == 0


@responses.activate
def test_netrc_credentials_are_not_added(tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine partner.example login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    responses.post(URL, json={})
    LeanSession().request("POST", URL, json={}, timeout=5)
    assert "Authorization" not in responses.calls[0].request.headers
    # A plain Session would have sent them: the test would see it.
    responses.post(URL, json={})
    requests.Session().request("POST", URL, json={}, timeout=5)
    assert "Authorization" in responses.calls[1].request.headers


def test_a_redirect_is_never_followed():
    with pytest.raises(ValueError, match="never follows redirects"):
        LeanSession().request("GET", URL, allow_redirects=True)


@responses.activate
def test_default_headers_then_the_callers_and_a_none_drops_one():
    responses.post(URL, json={})
    LeanSession().request(
        "post", URL, data=b"x", headers={"user-agent": "portal/1", "Accept": None}, timeout=5
    )
    sent = responses.calls[0].request
    assert sent.method == "POST"
    assert sent.headers["User-Agent"] == "portal/1"
    assert "Accept" not in sent.headers
    assert sent.headers["Accept-Encoding"]  # the session's default


@responses.activate
def test_the_environments_proxy_is_used_and_looked_up_once_per_host(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    session = LeanSession()
    looked_up = []
    merge = session.merge_environment_settings
    monkeypatch.setattr(
        session, "merge_environment_settings", lambda *a: looked_up.append(a[0]) or merge(*a)
    )
    responses.post(URL, json={})
    responses.post("https://other.example/x", json={})
    for _ in range(3):
        session.request("POST", URL, json={}, timeout=5)
    session.request("POST", "https://other.example/x", json={}, timeout=5)
    assert looked_up == [URL, "https://other.example/x"]
    assert responses.calls[0].request.req_kwargs["proxies"]["https"] == "http://proxy.internal:3128"
    assert responses.calls[0].request.req_kwargs["timeout"] == 5


@responses.activate
def test_a_session_that_does_not_trust_the_environment_sends_direct(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    session = LeanSession()
    session.trust_env = False
    responses.post(URL, json={})
    session.request("POST", URL, json={}, timeout=5)
    assert not responses.calls[0].request.req_kwargs["proxies"]
