"""The whole system on free ports for browser tests: identity provider, API under gunicorn, dashboard, Chromium.

Each test gets its own identity provider, because the provider must accept the dashboard's
redirect URI on the port this test's dashboard got (sandbox/users.json registers 8501 only).
The database server is the session's (tests/conftest.py), with a fresh database per test.
"""

from __future__ import annotations

import pytest
from dashboard_page import start_chromium

from sandbox.backend import sandbox_app_env, start_backend
from sandbox.dashboard import CLIENT_ID, DashboardServer, redirect_uris
from sandbox.database import free_port
from sandbox.idp.launcher import SandboxIdp, start_idp


@pytest.fixture
def dashboard_port() -> int:
    return free_port()


@pytest.fixture
def dashboard_idp(dashboard_port) -> SandboxIdp:
    with start_idp(redirect_uris={CLIENT_ID: redirect_uris(dashboard_port)}) as provider:
        yield provider


@pytest.fixture
def backend_url(mongo_uri, database_name, dashboard_idp, tmp_path) -> str:
    # One worker: under `pytest -n auto` every test worker runs its own stack on the same cores.
    app_env = sandbox_app_env(mongo_uri, database_name, dashboard_idp.issuer)
    with start_backend(app_env, workers=1, threads=4, log_path=tmp_path / "backend.log", timeout=60) as url:
        yield url


@pytest.fixture
def dashboard(backend_url, dashboard_idp, dashboard_port, tmp_path) -> DashboardServer:
    server = DashboardServer(backend_url, dashboard_idp.issuer, dashboard_port, run_dir=tmp_path / "dashboard",
                             log_path=tmp_path / "dashboard.log", watch_files=False)
    server.start(timeout=60)
    yield server
    server.stop()


@pytest.fixture
def chromium(tmp_path):
    driver = start_chromium(tmp_path / "chromium-profile")
    yield driver
    driver.quit()
