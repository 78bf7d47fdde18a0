"""Partner requests connect to the address the SSRF guard validated (no DNS-rebinding window).

Checking a host name and then letting the socket resolve it again leaves a gap: a hostile DNS
server can answer a public address to the check and 127.0.0.1 (or 169.254.169.254) to the
connection. `PinnedAdapter` closes it: for each request it resolves the host once
(`sync.transport.ssrf.safe_address`: every answer must be public), then has urllib3 connect to that
exact IP. Only the TCP target changes; the request still names the host:

  - the `Host` header is the URL's host (and port);
  - HTTPS sends the host name as SNI (`server_hostname`) and verifies the certificate against
    it (`assert_hostname`), so pinning never weakens TLS;
  - urllib3 keys its pools by IP and those two names, so hosts sharing an IP never share a pool.

`guarded_session()` is what sync/transport/http.py uses for partner connections whose guard is on;
hosts in SSRF_ALLOWED_HOSTS are trusted and resolved as usual. The session ignores proxy variables
(a proxy would resolve the name itself) and is lean (sync/transport/lean_session.py).
"""

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from sync.transport.lean_session import LeanSession
from sync.transport.ssrf import safe_address

# The validated address travels from send() to the pool lookup on the request itself.
_PINNED = "_ssrf_pinned_address"


class PinnedAdapter(HTTPAdapter):
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.pin(request)  # raises sync.transport.ssrf.UnsafeURL before anything is sent
        return super().send(request, **kwargs)

    @staticmethod
    def pin(request: requests.PreparedRequest) -> None:
        address = safe_address(request.url or "")
        setattr(request, _PINNED, str(address) if address else None)
        if address:
            netloc = urlsplit(request.url).netloc.rpartition("@")[2]
            request.headers["Host"] = netloc

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        address = getattr(request, _PINNED, None)
        if address:
            hostname = host_params["host"]
            host_params["host"] = address
            if host_params["scheme"] == "https":
                pool_kwargs["server_hostname"] = hostname
                pool_kwargs["assert_hostname"] = hostname
        return host_params, pool_kwargs


def guarded_session() -> LeanSession:
    session = LeanSession()
    session.trust_env = False
    adapter = PinnedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
