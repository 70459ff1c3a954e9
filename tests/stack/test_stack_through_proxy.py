"""End-to-end checks of a running stack through its reverse proxy, over HTTP(S) only.

Runs inside the test stack (`docker compose -f compose.yml -f compose.test.yml run --build --rm testing`),
which sets:

- ``DRIFT_STACK_URL``: the stack's public base URL (there: https://reverse-proxy). Without it this module
  is skipped, which is what happens in `make test`.
- ``DRIFT_STACK_CA_BUNDLE``: CA certificate(s) to trust for it (the test stack's throwaway CA); default:
  the system's.
- ``DRIFT_STACK_ISSUER``: a *sandbox* identity provider trusted by the backend. Only then does the
  authenticated round trip run (it registers alice, creates and deletes an experiment), so pointing
  DRIFT_STACK_URL at a production deployment runs the read-only checks as a smoke test.
- ``DRIFT_STACK_SLOW=0`` skips the test that holds a WebSocket open past the proxy's read timeout (70 s).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import ssl
import struct
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests

BASE_URL = os.environ.get("DRIFT_STACK_URL", "").rstrip("/")
if not BASE_URL:
    pytest.skip(
        "DRIFT_STACK_URL is not set: these tests check a running stack through its reverse proxy; run them "
        "with `docker compose -f compose.yml -f compose.test.yml run --build --rm testing`",
        allow_module_level=True,
    )

CA_BUNDLE = os.environ.get("DRIFT_STACK_CA_BUNDLE") or None
ISSUER = os.environ.get("DRIFT_STACK_ISSUER", "").rstrip("/")
RUN_SLOW = os.environ.get("DRIFT_STACK_SLOW", "1") != "0"
API = f"{BASE_URL}/api/v1"
TIMEOUT = 15
ONE_YEAR = 365 * 24 * 3600
#: Traefik v3 entry points' default respondingTimeouts.readTimeout.
PROXY_READ_TIMEOUT = 60
#: The key of RFC 6455 section 1.3, used to compute Sec-WebSocket-Accept.
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_target = urlsplit(BASE_URL)
HOST = _target.hostname
TLS = _target.scheme == "https"
PORT = _target.port or (443 if TLS else 80)


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        session.verify = CA_BUNDLE or True
        yield session


def tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=CA_BUNDLE) if CA_BUNDLE else ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


# --- the API ---------------------------------------------------------------------------------------------


def test_health_reports_the_service_and_its_database_ok(http):
    response = http.get(f"{BASE_URL}/api/health", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "database": "ok"}


def test_the_backend_reads_the_database_with_its_credentials(http):
    # /api/health only pings, which MongoDB answers without authentication: a query proves the
    # application user and its password (the secret file) work.
    response = http.post(f"{API}/experiment/search", json={}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


def test_the_version_is_served(http):
    response = http.get(f"{BASE_URL}/api/version", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json()["api"] in response.json()["api_versions"]


def test_an_unknown_api_path_is_answered_by_the_backend_not_the_dashboard(http):
    response = http.get(f"{BASE_URL}/api/no-such-endpoint", timeout=TIMEOUT)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["code"] == 404


def test_the_openapi_document_is_served(http):
    response = http.get(f"{API}/openapi.json", timeout=TIMEOUT)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/experiment" in document["paths"]


class _AssetLinks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.links.append(attributes["src"])
        if tag == "link" and attributes.get("rel") == "stylesheet" and attributes.get("href"):
            self.links.append(attributes["href"])


def test_the_api_docs_render_from_the_stack_itself(http):
    page = http.get(f"{BASE_URL}/api/docs", timeout=TIMEOUT)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "swagger" in page.text.lower()
    parser = _AssetLinks()
    parser.feed(page.text)
    assert parser.links, "the Swagger UI page loads no scripts or stylesheets"
    for link in parser.links:
        url = urljoin(page.url, link)
        # Served by the stack: the docs must work without internet access (no CDN).
        assert urlsplit(url).hostname == HOST, f"/api/docs loads {url} from elsewhere"
        asset = http.get(url, timeout=TIMEOUT)
        assert asset.status_code == 200, f"{url} answered {asset.status_code}"


def test_a_request_without_a_token_is_refused(http):
    response = http.get(f"{API}/user/self", timeout=TIMEOUT)
    assert response.status_code == 401
    assert "Bearer" in response.headers.get("WWW-Authenticate", "")


@pytest.mark.skipif(not ISSUER, reason="DRIFT_STACK_ISSUER (a sandbox identity provider) is not set")
def test_an_authenticated_round_trip(http):
    from sandbox.idp.launcher import SandboxIdp

    token = SandboxIdp(ISSUER).user_token("alice")  # the MyToken exchange, as the client does it
    headers = {"Authorization": f"Bearer {token}"}

    registered = http.post(f"{API}/user", headers=headers, timeout=TIMEOUT)
    assert registered.status_code in (201, 409), registered.text
    me = http.get(f"{API}/user/self", headers=headers, timeout=TIMEOUT)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "alice@example.org"

    body = {"name": f"stack-e2e-{uuid.uuid4().hex[:12]}", "description": "made by the stack's end-to-end test",
            "public": False, "permissions": []}
    created = http.post(f"{API}/experiment", json=body, headers=headers, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    experiment = created.json()
    try:
        run = {"job_status": "Completed", "model": "model-1", "tags": ["e2e"], "drift_detected": True,
               "parameters": {"window": "2026-01"}}
        posted = http.post(f"{API}/experiment/{experiment['id']}/drift", json=run, headers=headers, timeout=TIMEOUT)
        assert posted.status_code == 201, posted.text
        found = http.post(f"{API}/experiment/{experiment['id']}/drift/search", json={"tags": "e2e"},
                          headers=headers, timeout=TIMEOUT)
        assert found.status_code == 200, found.text
        assert [item["id"] for item in found.json()] == [posted.json()["id"]]
        # Private: invisible without a token.
        assert http.get(f"{API}/experiment/{experiment['id']}", timeout=TIMEOUT).status_code == 404
    finally:
        deleted = http.delete(f"{API}/experiment/{experiment['id']}", headers=headers, timeout=TIMEOUT)
        assert deleted.status_code == 204, deleted.text


# --- the dashboard ---------------------------------------------------------------------------------------


def test_the_dashboard_answers(http):
    page = http.get(f"{BASE_URL}/", timeout=TIMEOUT)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'id="root"' in page.text  # Streamlit's single-page app
    health = http.get(f"{BASE_URL}/_stcore/health", timeout=TIMEOUT)
    assert health.status_code == 200
    assert health.text.strip() == "ok"


class WebSocket:
    """The client side of RFC 6455, just enough to open Streamlit's socket and exchange pings."""

    def __init__(self, path: str, timeout: float = TIMEOUT):
        raw = socket.create_connection((HOST, PORT), timeout=timeout)
        self.sock = tls_context().wrap_socket(raw, server_hostname=HOST) if TLS else raw
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        self.expected_accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        request = (
            f"GET {path} HTTP/1.1\r\n"
            f"Host: {_target.netloc}\r\n"
            f"Origin: {BASE_URL}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: streamlit\r\n"
            "\r\n"
        )
        self.sock.sendall(request.encode())
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        self.status_line, *header_lines = head.split("\r\n")
        self.headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    @property
    def status(self) -> int:
        return int(self.status_line.split()[1])

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; received so far: {self.buffer[:300]!r}")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def send(self, opcode: int, payload: bytes = b"") -> None:
        mask = os.urandom(4)  # a client always masks (RFC 6455 5.3)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        assert len(payload) < 126
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def receive(self) -> tuple[int, bytes]:
        first, second = self._read_exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        return first & 0x0F, self._read_exactly(length)

    def close(self) -> None:
        try:
            self.send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def test_the_dashboard_websocket_upgrades_through_the_proxy():
    websocket = WebSocket("/_stcore/stream")
    try:
        assert websocket.status == 101, f"{websocket.status_line}: the proxy or Streamlit refused the upgrade"
        assert websocket.headers["upgrade"].lower() == "websocket"
        assert websocket.headers["sec-websocket-accept"] == websocket.expected_accept
        assert websocket.headers.get("sec-websocket-protocol") == "streamlit"
    finally:
        websocket.close()


@pytest.mark.skipif(not RUN_SLOW, reason="DRIFT_STACK_SLOW=0")
@pytest.mark.timeout(PROXY_READ_TIMEOUT * 3)
def test_the_dashboard_websocket_outlives_the_proxy_read_timeout():
    """A dashboard tab stays open for hours: the proxy must not cut its socket after a request timeout."""
    websocket = WebSocket("/_stcore/stream")
    assert websocket.status == 101, websocket.status_line
    websocket.sock.settimeout(5)
    deadline = time.monotonic() + PROXY_READ_TIMEOUT + 10
    pongs = 0
    try:
        while time.monotonic() < deadline:
            websocket.send(0x9, b"stack-e2e")
            answered = False
            while not answered:
                opcode, payload = websocket.receive()
                if opcode == 0x9:  # the server's own keep-alive ping
                    websocket.send(0xA, payload)
                elif opcode == 0xA and payload == b"stack-e2e":
                    answered = True
                elif opcode == 0x8:
                    pytest.fail(f"the socket was closed after {pongs} pings: {payload!r}")
            pongs += 1
            time.sleep(5)
    finally:
        websocket.close()
    assert pongs >= (PROXY_READ_TIMEOUT + 10) // 6


# --- the proxy itself ------------------------------------------------------------------------------------


@pytest.mark.skipif(not TLS, reason="DRIFT_STACK_URL is not an https:// URL")
def test_plain_http_is_redirected_to_https():
    response = requests.get(f"http://{HOST}/api/health?probe=1", allow_redirects=False, timeout=TIMEOUT)
    assert response.status_code in (301, 308)
    assert response.headers["Location"] == f"https://{HOST}/api/health?probe=1"


@pytest.mark.skipif(not TLS, reason="DRIFT_STACK_URL is not an https:// URL")
@pytest.mark.parametrize("path", ["/api/health", "/"])
def test_responses_carry_hsts_and_security_headers(http, path):
    headers = http.get(f"{BASE_URL}{path}", timeout=TIMEOUT).headers
    max_age = re.search(r"max-age=(\d+)", headers.get("Strict-Transport-Security", ""))
    assert max_age and int(max_age.group(1)) >= ONE_YEAR, headers.get("Strict-Transport-Security")
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("X-Frame-Options", "").upper() in ("DENY", "SAMEORIGIN")
    assert headers.get("Referrer-Policy")
    assert "Server" not in headers


@pytest.mark.skipif(not TLS, reason="DRIFT_STACK_URL is not an https:// URL")
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")  # offered on purpose
def test_tls_below_1_2_is_refused():
    context = tls_context()
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pytest.skip("this OpenSSL cannot offer TLS 1.1 at all")
    with socket.create_connection((HOST, PORT), timeout=TIMEOUT) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=HOST) as connection:
                pytest.fail(f"the proxy accepted {connection.version()}")
        except ssl.SSLError as error:
            if "NO_PROTOCOLS_AVAILABLE" in str(error) or "UNSUPPORTED_PROTOCOL" in str(error):
                pytest.skip(f"this OpenSSL cannot offer TLS 1.1 at all: {error}")
            assert "PROTOCOL_VERSION" in str(error) or "HANDSHAKE_FAILURE" in str(error), error
    with socket.create_connection((HOST, PORT), timeout=TIMEOUT) as raw:
        with tls_context().wrap_socket(raw, server_hostname=HOST) as connection:
            assert connection.version() in ("TLSv1.2", "TLSv1.3")


def test_the_api_is_rate_limited_but_recovers(http):
    """Last: a flood of API calls meets 429, the dashboard is unaffected, and the API answers again."""
    stop = threading.Event()

    def flood(_):
        statuses = []
        with requests.Session() as session:
            session.verify = CA_BUNDLE or True
            for _ in range(300):
                if stop.is_set():
                    break
                status = session.get(f"{BASE_URL}/api/version", timeout=TIMEOUT).status_code
                statuses.append(status)
                if status == 429:
                    stop.set()
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [status for batch in pool.map(flood, range(8)) for status in batch]
    assert 429 in statuses, f"no 429 in {len(statuses)} requests over {time.monotonic() - started:.1f} s"
    assert set(statuses) <= {200, 429}, sorted(set(statuses))
    assert http.get(f"{BASE_URL}/_stcore/health", timeout=TIMEOUT).status_code == 200
    deadline = time.monotonic() + 10
    while http.get(f"{BASE_URL}/api/version", timeout=TIMEOUT).status_code == 429:
        assert time.monotonic() < deadline, "the API still refuses requests 10 s after the flood"
        time.sleep(0.5)
