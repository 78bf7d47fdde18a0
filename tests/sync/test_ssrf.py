"""The SSRF guard: hostnames resolving to non-public addresses are refused unless allowed."""

import socket

import pytest

from sync.ssrf import UnsafeURL, check_url


@pytest.fixture
def resolves_to(monkeypatch):
    def answer(*addresses: str):
        def fake(host, port, *args, **kwargs):
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in addresses
            ]

        monkeypatch.setattr(socket, "getaddrinfo", fake)

    return answer


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.5", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
    ],
)
def test_non_public_addresses_are_refused(resolves_to, address, reason):
    resolves_to(address)
    with pytest.raises(UnsafeURL, match=f"a {reason} address"):
        check_url("https://partner.example/hooks")


def test_one_private_record_among_public_ones_is_enough_to_refuse(resolves_to):
    resolves_to("93.184.215.14", "10.0.0.7")
    with pytest.raises(UnsafeURL, match=r"10\.0\.0\.7"):
        check_url("https://partner.example/")


def test_public_addresses_pass(resolves_to):
    resolves_to("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    check_url("https://partner.example/hooks")


def test_literal_ip_urls_are_checked_too():
    with pytest.raises(UnsafeURL, match="loopback"):
        check_url("http://127.0.0.1:8000/admin")
    with pytest.raises(UnsafeURL, match="link-local"):
        check_url("http://[::ffff:a9fe:a9fe]/latest/meta-data")


def test_operator_allowed_hosts_and_the_per_connection_flag(resolves_to, settings):
    resolves_to("10.0.0.7")
    settings.SSRF_ALLOWED_HOSTS = ["crm-sandbox.internal"]
    check_url("http://CRM-sandbox.internal:8080/")
    check_url("http://other.internal/", allow_private=True)
    with pytest.raises(UnsafeURL):
        check_url("http://other.internal/")


@pytest.mark.parametrize("url", ["ftp://partner.example/", "file:///etc/passwd", "https://"])
def test_other_schemes_and_missing_hosts_are_refused(url):
    with pytest.raises(UnsafeURL, match="not an http"):
        check_url(url)


def test_unresolvable_hosts_are_refused(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(UnsafeURL, match="does not resolve"):
        check_url("https://nowhere.example/")
