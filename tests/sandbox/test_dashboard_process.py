"""sandbox/dashboard.py: Streamlit as a child process, its generated st.login settings, and a login through them.

The app here is a one-line stand-in, so these tests check the launcher and the login wiring whatever
the dashboard's pages do; tests/e2e drives the real dashboard in a browser.
"""

from __future__ import annotations

import base64
import json
import sys
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox.dashboard import (
    CLIENT_ID,
    CLIENT_SECRET,
    DashboardServer,
    auth_secrets_toml,
    provider_token,
    redirect_uris,
)
from sandbox.database import free_port
from sandbox.idp.launcher import start_idp

TIMEOUT = 15
ISSUER = "http://127.0.0.1:5001"


def test_the_generated_secrets_configure_st_login_for_the_sandbox_client():
    text = auth_secrets_toml("http://localhost:8501/oauth2callback", ISSUER + "/", 'a"quote\\and backslash')
    auth = tomllib.loads(text)["auth"]
    assert auth == {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": 'a"quote\\and backslash',
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "server_metadata_url": f"{ISSUER}/.well-known/openid-configuration",
        "expose_tokens": ["access"],
        "client_kwargs": {"scope": "openid email profile eduperson_entitlement"},
    }


def test_both_spellings_of_the_callback_are_registered_per_port():
    assert redirect_uris(8601) == ["http://localhost:8601/oauth2callback", "http://127.0.0.1:8601/oauth2callback"]


@pytest.fixture
def app(tmp_path) -> Path:
    path = tmp_path / "app.py"
    path.write_text('import streamlit as st\n\nst.write("stand-in dashboard")\n')
    return path


@pytest.fixture
def dashboard_port() -> int:
    return free_port()


@pytest.fixture
def idp(dashboard_port):
    with start_idp(redirect_uris={CLIENT_ID: redirect_uris(dashboard_port)}) as provider:
        yield provider


def process_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the child's environment from /proc")
def test_the_dashboard_answers_health_with_its_settings_outside_the_repository(app, dashboard_port, monkeypatch):
    monkeypatch.setenv("DRIFT_MONITOR_MYTOKEN", "someone-elses-mytoken")
    monkeypatch.setenv("DRIFT_MONITOR_TOKEN", "someone-elses-token")
    server = DashboardServer("http://127.0.0.1:5999/", ISSUER, dashboard_port, app=app, watch_files=False)
    server.start(timeout=60)
    try:
        secrets_path = server.secrets_path
        assert not secrets_path.is_relative_to(Path(__file__).resolve().parents[2])
        assert secrets_path.stat().st_mode & 0o777 == 0o600  # it holds the client secret and cookie secret
        assert f"--secrets.files {secrets_path}" in " ".join(server.command())
        health = requests.get(f"http://127.0.0.1:{dashboard_port}/_stcore/health", timeout=TIMEOUT)
        assert health.status_code == 200 and health.text == "ok"

        environ = process_environ(server.process.pid)
        assert environ["DRIFT_MONITOR_URL"] == "http://127.0.0.1:5999"
        assert environ["DRIFT_MONITOR_MYTOKEN_SERVER"] == ISSUER
        # The dashboard acts as whoever logs in, never as the person who started it.
        assert "DRIFT_MONITOR_MYTOKEN" not in environ and "DRIFT_MONITOR_TOKEN" not in environ
    finally:
        server.stop()
    assert not secrets_path.exists()
    assert server.process is None


def test_a_missing_app_is_named(tmp_path):
    server = DashboardServer("http://127.0.0.1:5999", ISSUER, app=tmp_path / "nowhere.py")
    with pytest.raises(RuntimeError, match="nowhere.py does not exist"):
        server.start()


def signed_cookie(cookie_secret: str, name: str, value: str) -> bytes:
    """A login cookie's content, checked against the cookie secret as Streamlit 1.67 does."""
    from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value

    decoded = decode_signed_value(cookie_secret, name, value.strip('"').encode("latin-1"))
    assert decoded is not None, f"cookie {name} is not signed with the generated cookie secret"
    return decoded


def test_a_login_goes_through_the_sandbox_provider_and_back_with_the_access_token(app, dashboard_port, idp,
                                                                                     tmp_path):
    """The browser's path, without a browser: Streamlit's login route, the provider's user picker,
    the callback that exchanges the code with the client secret and sets the login cookies."""
    server = DashboardServer("http://127.0.0.1:5999", idp.issuer, dashboard_port, app=app,
                             run_dir=tmp_path / "run", watch_files=False)
    server.start(timeout=60)
    try:
        cookie_secret = tomllib.loads(server.secrets_path.read_text())["auth"]["cookie_secret"]
        browser = requests.Session()
        login = browser.get(f"{server.url}/auth/login", params={"provider": provider_token(cookie_secret)},
                            allow_redirects=False, timeout=TIMEOUT)
        assert login.status_code in (302, 307), login.text
        authorize = urlsplit(login.headers["location"])
        query = {key: values[0] for key, values in parse_qs(authorize.query).items()}
        assert authorize.geturl().startswith(f"{idp.issuer}/authorize")
        assert query["client_id"] == CLIENT_ID and query["redirect_uri"] == server.redirect_uri
        assert "eduperson_entitlement" in query["scope"].split()

        picker = browser.get(login.headers["location"], timeout=TIMEOUT)
        assert picker.status_code == 200 and 'id="login-alice"' in picker.text
        picked = browser.post(login.headers["location"], data={"username": "alice"}, allow_redirects=False,
                              timeout=TIMEOUT)
        assert picked.status_code == 302
        assert picked.headers["location"].startswith(server.redirect_uri + "?")

        callback = browser.get(picked.headers["location"], allow_redirects=False, timeout=TIMEOUT)
        assert callback.status_code in (302, 307), server.process.log_tail()
        cookies = {cookie.name: cookie.value for cookie in browser.cookies}
        assert {"_streamlit_user", "_streamlit_user_tokens"} <= set(cookies), (cookies, server.process.log_tail())
        user = json.loads(signed_cookie(cookie_secret, "_streamlit_user", cookies["_streamlit_user"]))
        assert user["preferred_username"] == "alice" and user["is_logged_in"] is True
        assert "urn:example:drift-monitor:users" in user["eduperson_entitlement"]
        tokens = json.loads(signed_cookie(cookie_secret, "_streamlit_user_tokens", cookies["_streamlit_user_tokens"]))
        # The access token the dashboard's pages send to the API: issued to alice by the sandbox provider.
        claims = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[1] + "=="))
        assert claims["sub"] == user["sub"] and claims["iss"] == idp.issuer and claims["aud"] == "drift-monitor"
    finally:
        server.stop()
