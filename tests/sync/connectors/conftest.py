import ipaddress
import socket

import pytest
import responses

PUBLIC_IP = "93.184.215.14"


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    """No real DNS in tests: every host resolves to a public address unless a test says so."""
    answers: dict[str, str] = {}

    def fake_getaddrinfo(host, port, *args, **kwargs):
        address = answers.get(host, host if is_ip(host) else PUBLIC_IP)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return answers


@pytest.fixture
def remote():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
