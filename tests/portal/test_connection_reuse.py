"""After a 413 the connection stays usable: the refused body is read and dropped, so a pooled
client's next request on the same socket gets its answer (item 5 of issue 16)."""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest

BIG = json.dumps({"first_name": "x" * (2 * 1024 * 1024)}).encode()


def _connection(live_server) -> http.client.HTTPConnection:
    address = urlsplit(live_server.url)
    return http.client.HTTPConnection(address.hostname, address.port, timeout=30)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/v1/contacts/", "/webhooks/highlevel/"])
def test_a_413_leaves_the_connection_usable(live_server, api_key, path):
    headers = {"Authorization": f"Bearer {api_key[1]}", "Content-Type": "application/json"}
    connection = _connection(live_server)
    connection.request("POST", path, body=BIG, headers=headers)
    refused = connection.getresponse()
    assert refused.status == 413
    assert json.loads(refused.read())["error"]["code"] in ("payload_too_large", "too_large")
    assert refused.getheader("Connection", "keep-alive").lower() != "close"
    connection.request("GET", "/api/v1/contacts/", headers=headers)  # the same socket
    again = connection.getresponse()
    assert again.status == 200
    assert json.loads(again.read())["results"] == []
    connection.close()


@pytest.fixture
def gunicorn_url():
    """The production server (gunicorn, threads), which would close the socket after a 413
    whose body was left unread although it answered `keep-alive`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    command = [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*command, "--workers", "1", "--threads", "2", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            threading.Event().wait(0.1)
    raise AssertionError("gunicorn did not start")


def test_gunicorn_keeps_the_connection_usable_after_a_413(gunicorn_url):
    address = urlsplit(gunicorn_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    connection.request("POST", "/webhooks/highlevel/", body=BIG, headers=headers)
    refused = connection.getresponse()
    assert refused.status == 413 and refused.getheader("Connection") == "keep-alive"
    refused.read()
    connection.request(
        "POST", "/webhooks/highlevel/", body=b"x", headers={"Content-Type": "text/plain"}
    )
    again = connection.getresponse()  # without the drain: RemoteDisconnected
    assert again.status == 415
    assert json.loads(again.read())["error"]["code"] == "unsupported_media_type"
    connection.close()
