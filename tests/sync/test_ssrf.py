"""The SSRF guard: hostnames resolving to non-public addresses are refused unless allowed."""

import socket

import pytest

from sync.transport.ssrf import UnsafeURL, check_url


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


# Issue 15, row 13: IPv6 forms that reach an IPv4 address through a relay or translator.
@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("2002:7f00:1::", r"loopback IPv4 address \(127\.0\.0\.1\) embedded"),  # 6to4
        ("2002:a9fe:a9fe::1", r"link-local IPv4 address \(169\.254\.169\.254\) embedded"),
        ("2002:c0a8:101::", r"private IPv4 address \(192\.168\.1\.1\) embedded"),
        ("2001:0:7f00:1::f5ff:fffe", r"loopback IPv4 address \(127\.0\.0\.1\) embedded"),  # Teredo
        ("2001:0:808:808::f5ff:fffe", r"private IPv4 address \(10\.0\.0\.1\) embedded"),
        ("64:ff9b::7f00:1", r"loopback IPv4 address \(127\.0\.0\.1\) embedded"),  # NAT64
        ("64:ff9b::a9fe:a9fe", r"link-local IPv4 address \(169\.254\.169\.254\) embedded"),
        ("64:ff9b:1::a00:1", "local-use NAT64"),
        ("::127.0.0.1", r"IPv4-compatible \(deprecated\)"),
        ("::8.8.8.8", r"IPv4-compatible \(deprecated\)"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped
    ],
)
def test_ipv6_forms_embedding_a_non_public_ipv4_are_refused(resolves_to, address, reason):
    resolves_to(address)
    with pytest.raises(UnsafeURL, match=f"a {reason}"):
        check_url("https://partner.example/hooks")


@pytest.mark.parametrize("address", ["2002:808:808::1", "::ffff:8.8.8.8", "2606:4700::1111"])
def test_ipv6_forms_carrying_a_public_ipv4_still_pass(resolves_to, address):
    resolves_to(address)
    check_url("https://partner.example/hooks")
