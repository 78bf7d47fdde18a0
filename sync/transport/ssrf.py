"""SSRF guard for URLs that partners or operators supply (webhook targets, REST base URLs).

    check_url(url, allow_private=False) -> None     raises UnsafeURL (a ValueError)
    safe_address(url, allow_private=False) -> ip    the checked address to connect to

A URL is refused when its host resolves to any address that is not public: loopback, private,
link-local (incl. the cloud metadata address 169.254.169.254), multicast, reserved, unspecified,
shared (100.64/10) — IPv4 and IPv6. An IPv6 address that carries an IPv4 address (IPv4-mapped
::ffff:a.b.c.d, 6to4 2002::/16, Teredo 2001::/32, NAT64 64:ff9b::/96) is refused when the IPv4
address it carries is not public; IPv4-compatible ::a.b.c.d (deprecated) and local-use NAT64
64:ff9b:1::/48 (whose layout depends on the operator's prefix) are refused outright. Every
resolved address is checked, so one public record next to a private one does not pass.

An operator allows a host explicitly with the setting SSRF_ALLOWED_HOSTS (host names or
literal IPs) or per connection with `options["allow_private_network"] = true`.
It runs at save time (command and admin validation) and again at every request, where the
address it validated is the one the socket connects to (sync/transport/pinned_http.py): a DNS server
answering a public address to the check and 127.0.0.1 to the connection gains nothing.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class UnsafeURL(ValueError):
    """A URL we may not call: not http(s), unresolvable, or resolving to a non-public address."""


# The connection option that lets an operator allow private addresses for one connection.
ALLOW_PRIVATE = "allow_private_network"


def check_url(url: str, *, allow_private: bool = False) -> None:
    safe_address(url, allow_private=allow_private)


def safe_address(url: str, *, allow_private: bool = False) -> IPAddress | None:
    """The one address to connect to (resolved once, every answer checked), or None when the
    operator allowed the host or the connection (then nothing is pinned: it is trusted)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(f"{url!r} is not an http(s) URL with a host.")
    host = parts.hostname.lower()
    if allow_private or host in allowed_hosts():
        return None
    addresses = resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    if not addresses:
        raise UnsafeURL(f"{host} resolves to no address.")
    for address in addresses:
        reason = why_not_public(address)
        if reason:
            raise UnsafeURL(
                f"{host} resolves to {address}, a {reason} address; add the host to "
                "SSRF_ALLOWED_HOSTS or allow private networks on the connection to permit it."
            )
    # One address is pinned, so the socket cannot fall back to the next; IPv4 first, as hosts
    # without IPv6 routes are the commoner failure.
    return next((a for a in addresses if a.version == 4), addresses[0])


def allowed_hosts() -> set[str]:
    return {h.strip().lower() for h in getattr(settings, "SSRF_ALLOWED_HOSTS", []) if h.strip()}


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"{host} does not resolve: {exc}") from exc
    # Strip an IPv6 zone ("fe80::1%eth0") before parsing.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def why_not_public(address: IPAddress) -> str:
    """'' for a public unicast address, else the category that makes it unsafe."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            address = address.ipv4_mapped
        else:
            reason = _why_not_public_embedding(address)
            if reason:
                return reason
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    )
    for name, hit in checks:
        if hit:
            return name
    return "" if address.is_global else "non-public"


def _why_not_public_embedding(address: ipaddress.IPv6Address) -> str:
    """Why an IPv6 form that reaches an IPv4 address (through a relay or a translator) is
    unsafe: the IPv4 address it carries is not public, or the form is refused as a whole."""
    if address in _NAT64_LOCAL_USE:
        return "local-use NAT64"
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are judged as themselves
        return "IPv4-compatible (deprecated)"
    for ipv4 in _carried_ipv4(address):
        reason = why_not_public(ipv4)
        if reason:
            return f"{reason} IPv4 address ({ipv4}) embedded in an IPv6"
    return ""


def _carried_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if address.teredo:  # (the Teredo server, the client's de-obfuscated address)
        return list(address.teredo)
    if address.sixtofour:
        return [address.sixtofour]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []
