"""Row 14 of issue 15: a chunked body (Transfer-Encoding without Content-Length) was read as
empty, so a POST created an empty contact. It is refused with 411 in the API's error shape."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contacts.models import Contact

ROOT = Path(__file__).resolve().parents[2]
BODY = b'{"first_name": "Chunky", "email": "chunky@example.com"}'


@pytest.mark.django_db
def test_a_chunked_api_write_is_411_and_creates_nothing(api):
    response = api.generic(
        "POST",
        "/api/v1/contacts/",
        BODY,
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411
    error = response.json()["error"]
    assert error["code"] == "length_required" and "Content-Length" in error["message"]
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_a_body_with_a_length_is_read(api):
    response = api.post("/api/v1/contacts/", {"first_name": "Sized"}, format="json")
    assert response.status_code == 201 and Contact.objects.get().first_name == "Sized"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chunked_request(port: int, path: str) -> bytes:
    chunk = f"{len(BODY):x}\r\n".encode() + BODY + b"\r\n0\r\n\r\n"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Authorization: Bearer psk_unknown_key\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + chunk)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    return answer


@pytest.fixture
def gunicorn_port():
    """The production server (gunicorn dechunks the body but sets no CONTENT_LENGTH)."""
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("path", ["/api/v1/contacts/", "/webhooks/highlevel/"])
def test_gunicorn_answers_a_chunked_body_411_in_json(gunicorn_port, path):
    answer = _chunked_request(gunicorn_port, path)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 411"), head
    assert b"application/json" in head and b'"length_required"' in body
