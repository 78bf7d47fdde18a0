"""Partner requests connect to the address the SSRF guard validated (no DNS-rebinding window).

Real sockets against a local server on 127.0.0.1; only DNS (socket.getaddrinfo) is faked.
"""

import datetime
import http.server
import ipaddress
import socket
import ssl
import threading

import pytest
import requests
import urllib3.util.connection
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync.models import DeliveryAttempt
from sync.transport import ssrf
from sync.transport.http import HttpClient, RemoteError
from sync.transport.pinned_http import PinnedAdapter, guarded_session
from tests.sync.factories import ConnectionFactory

PUBLIC_IP = "93.184.215.14"


class Recorder(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hosts.append(self.headers["Host"])
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(tls_context: ssl.SSLContext | None = None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.hosts = []
    if tls_context:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def local_server():
    server = serve()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def dns(monkeypatch):
    """answers[host] = [first answer, later answers…]: each lookup takes the next one (the last
    repeats), as a rebinding DNS server would. IP literals resolve to themselves."""
    answers: dict[str, list[str]] = {}
    lookups: list[str] = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        host = host.decode() if isinstance(host, bytes) else host
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            lookups.append(host)
            queue = answers[host]
            address = queue.pop(0) if len(queue) > 1 else queue[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return answers, lookups


@pytest.fixture
def loopback_counts_as_public(monkeypatch):
    """Lets a guarded connection reach the local test server (only 127.0.0.1 is waved through)."""
    original = ssrf.why_not_public
    monkeypatch.setattr(
        ssrf,
        "why_not_public",
        lambda address: "" if str(address) == "127.0.0.1" else original(address),
    )


def partner(workspace, url: str, **options):
    return ConnectionFactory(workspace=workspace, provider="rest", base_url=url, options=options)


@pytest.mark.django_db
def test_a_rebinding_host_never_gets_a_connection_to_loopback(
    workspace, local_server, dns, monkeypatch
):
    answers, lookups = dns
    port = local_server.server_port
    answers["rebind.example"] = [PUBLIC_IP, "127.0.0.1"]  # public to the check, then loopback
    targets = []

    def no_network(address, *args, **kwargs):
        targets.append(address)
        raise ConnectionRefusedError("test: no network")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", no_network)
    conn = partner(workspace, f"http://rebind.example:{port}")
    with pytest.raises(RemoteError) as failed:
        HttpClient(conn).request("GET", "/ping", rate_limited=False)
    assert not failed.value.permanent  # an unreachable public host: retried later
    assert targets == [(PUBLIC_IP, port)]  # the validated address, never 127.0.0.1
    assert lookups == ["rebind.example"] and local_server.hosts == []


@pytest.mark.django_db
def test_the_socket_connects_to_the_validated_address_and_keeps_the_host_header(
    workspace, local_server, dns, loopback_counts_as_public
):
    answers, lookups = dns
    port = local_server.server_port
    # A second lookup would say 10.9.9.9 (unreachable here): only the first answer is used.
    answers["partner.example"] = ["127.0.0.1", "10.9.9.9"]
    conn = partner(workspace, f"http://partner.example:{port}")
    response = HttpClient(conn).request("GET", "/ping", rate_limited=False)
    assert response.status == 200 and response.json() == {"ok": True}
    assert local_server.hosts == [f"partner.example:{port}"]
    assert lookups == ["partner.example"]


@pytest.mark.django_db
def test_a_host_resolving_to_loopback_is_refused_before_connecting(workspace, local_server, dns):
    answers, _ = dns
    answers["evil.example"] = ["127.0.0.1"]
    conn = partner(workspace, f"http://evil.example:{local_server.server_port}")
    with pytest.raises(RemoteError, match="SSRF") as refused:
        HttpClient(conn).request("GET", "/ping", rate_limited=False)
    assert refused.value.permanent and local_server.hosts == []
    attempt = DeliveryAttempt.objects.get(connection=conn)
    assert attempt.outcome == "permanent" and "127.0.0.1" in attempt.error


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["SSRF_ALLOWED_HOSTS", "allow_private_network"])
def test_allowed_hosts_still_reach_a_local_server(workspace, local_server, dns, settings, how):
    answers, _ = dns
    answers["partner.local"] = ["127.0.0.1"]
    port = local_server.server_port
    if how == "SSRF_ALLOWED_HOSTS":
        settings.SSRF_ALLOWED_HOSTS = ["partner.local"]
        conn = partner(workspace, f"http://partner.local:{port}")
    else:
        conn = partner(workspace, f"http://partner.local:{port}", allow_private_network=True)
    assert HttpClient(conn).request("GET", "/ping", rate_limited=False).status == 200
    assert local_server.hosts == [f"partner.local:{port}"]


def test_https_pools_keep_the_host_name_for_sni_and_certificate_checks(dns):
    answers, _ = dns
    answers["partner.example"] = [PUBLIC_IP]
    request = requests.Request("GET", "https://partner.example/hooks").prepare()
    adapter = PinnedAdapter()
    adapter.pin(request)
    pool = adapter.get_connection_with_tls_context(request, verify=True)
    assert pool.host == PUBLIC_IP
    assert pool.conn_kw["server_hostname"] == "partner.example"
    assert pool.assert_hostname == "partner.example"
    assert pool.cert_reqs == "CERT_REQUIRED"
    assert request.headers["Host"] == "partner.example"


def certificate_for(name: str, tmp_path):
    """A self-signed certificate for `name` (no IP address in it), as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@pytest.mark.parametrize(
    ("served_name", "verified"), [("partner.example", True), ("x.test", False)]
)
def test_a_pinned_https_request_verifies_the_certificate_against_the_host_name(
    dns, loopback_counts_as_public, tmp_path, served_name, verified
):
    cert_file, key_file = certificate_for(served_name, tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = serve(context)
    answers, _ = dns
    answers["partner.example"] = ["127.0.0.1"]
    url = f"https://partner.example:{server.server_port}/ping"
    try:
        if verified:
            response = guarded_session().request("GET", url, verify=cert_file, timeout=5)
            assert response.status_code == 200
            assert server.hosts == [f"partner.example:{server.server_port}"]
        else:
            with pytest.raises(requests.exceptions.SSLError):
                guarded_session().request("GET", url, verify=cert_file, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
