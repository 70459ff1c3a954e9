"""Fixtures of the client tests, besides the shared ones in tests/conftest.py: users of the module's live
backend (`backend_url`, one gunicorn-served API per module), their clients, and a failing proxy.

Each test has its own spool and a clean environment (tests/conftest.py's `clean_environment`).
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from client_support import NO_RETRY  # noqa: F401 — still importable from here, as it used to be
from drift_monitor import Client

from factories import USERS_GROUP


@pytest.fixture(scope="module")
def database_name(backend_database_name):
    """`db` shows what the module's backend stored."""
    return backend_database_name


@pytest.fixture
def spool_dir(tmp_path):
    """The spool `clean_environment` points DRIFT_MONITOR_SPOOL_DIR at."""
    return tmp_path / "spool"


@pytest.fixture
def user_token(idp):
    """A fresh (unregistered) user's access token."""
    sub = str(uuid.uuid4())
    return idp.token(sub, email=f"{sub[:8]}@example.org", entitlements=[USERS_GROUP])


@pytest.fixture
def api(backend_url, user_token, spool_dir) -> Client:
    """A registered user's client of the real backend."""
    client = Client(url=backend_url, token=user_token, spool_dir=spool_dir)
    client.register()
    yield client
    client.close()


@pytest.fixture
def experiment(api) -> dict:
    return api.create_experiment(f"exp-{uuid.uuid4().hex[:10]}", "client test")


class Proxy:
    """A tiny HTTP server in front of the backend that misbehaves on demand, counting down each request:

    - ``fail_next``: answered ``fail_status`` without being forwarded (the server never saw them);
    - ``refuse_next``: answered 429 with ``Retry-After: 0`` without being forwarded;
    - ``fail_after_work``: forwarded (the work is done) and then answered 502, as a gateway that timed out.
    """

    def __init__(self, target: str):
        self.target = target
        self.fail_next = 0
        self.fail_status = 503
        self.refuse_next = 0
        self.fail_after_work = 0
        self.requests: list[tuple[str, str, int]] = []
        self.user_agents: list[str] = []
        self._lock = threading.Lock()
        proxy = self

        def error(status: int, text: str, message: str) -> bytes:
            return json.dumps({"code": status, "status": text, "message": message}).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy._lock:
                    proxy.user_agents.append(self.headers.get("User-Agent", ""))
                    fail, refuse = proxy.fail_next > 0, proxy.refuse_next > 0
                    proxy.fail_next -= fail
                    proxy.refuse_next -= refuse and not fail
                headers = {"Content-Type": "application/json"}
                if fail:
                    status, content = proxy.fail_status, error(proxy.fail_status, "Service Unavailable", "try later")
                elif refuse:
                    status, content = 429, error(429, "Too Many Requests", "slow down")
                    headers["Retry-After"] = "0"
                else:
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                    answer = requests.request(self.command, proxy.target + self.path, data=body, headers=forwarded,
                                              timeout=10)
                    with proxy._lock:
                        after_work = proxy.fail_after_work > 0
                        proxy.fail_after_work -= after_work
                    if after_work:
                        status, content = 502, error(502, "Bad Gateway", "upstream timed out")
                    else:
                        status, content = answer.status_code, answer.content
                        headers = {k: v for k, v in answer.headers.items()
                                   if k.lower() in ("content-type", "x-pagination")}
                with proxy._lock:
                    proxy.requests.append((self.command, self.path, status))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def sent(self, method: str, path_end: str) -> list[int]:
        """The statuses answered to ``method`` requests whose path (without query) ends with ``path_end``."""
        return [status for m, path, status in self.requests if m == method and path.split("?")[0].endswith(path_end)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(backend_url):
    server = Proxy(backend_url)
    yield server
    server.close()
