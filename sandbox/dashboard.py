"""Run the Streamlit dashboard as a child process, logging in through the sandbox identity provider.

Used by `make run`, the browser test and the dashboard benchmark. The dashboard's st.login
configuration (the `[auth]` section Streamlit reads from secrets.toml) is generated into a run
directory and handed over with `--secrets.files`, so no secrets file ever lands in the repository.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from .database import free_port
from .processes import ServerProcess, http_ok

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_APP = REPO_ROOT / "frontend" / "streamlit_app.py"
DEFAULT_PORT = 8501
#: The dashboard's confidential client in sandbox/users.json (public sandbox values).
CLIENT_ID = "drift-monitor-dashboard"
CLIENT_SECRET = "sandbox-dashboard-secret"
#: Scopes asked at login; eduperson_entitlement so the ID token names the user's groups too.
SCOPE = "openid email profile eduperson_entitlement"
#: Streamlit's health endpoint answers 200 "ok" once the server accepts sessions.
HEALTH_PATH = "/_stcore/health"
#: Streamlit stops its session threads on SIGTERM; give it a moment before killing.
STOP_TIMEOUT = 10.0

# Client settings the developer may have exported for the CLI (the make run banner suggests
# DRIFT_MONITOR_MYTOKEN): the dashboard must act as whoever logged in, never as them.
_CALLER_CREDENTIALS = ("DRIFT_MONITOR_TOKEN", "DRIFT_MONITOR_MYTOKEN")


def provider_token(cookie_secret: str) -> str:
    """What Streamlit 1.67's st.login() puts in its /auth/login link (streamlit/auth_util.py,
    encode_provider_token): the provider's name, signed with the cookie secret, valid two minutes.
    Tests use it to start a login without a browser."""
    from joserfc import jwt
    from joserfc.jwk import OctKey

    payload = {"provider": "default", "exp": int(time.time()) + 120}
    return jwt.encode({"alg": "HS256"}, payload, OctKey.import_key(cookie_secret))


def redirect_uris(port: int) -> list[str]:
    """Both spellings of the dashboard's callback on ``port``, as an identity provider must list them."""
    return [f"http://localhost:{port}/oauth2callback", f"http://127.0.0.1:{port}/oauth2callback"]


def auth_secrets_toml(redirect_uri: str, issuer: str, cookie_secret: str) -> str:
    """The secrets.toml text that configures st.login against the identity provider at ``issuer``."""
    # json.dumps of a str is a valid TOML basic string (same escapes), so any value is safe here.
    values = {
        "redirect_uri": redirect_uri,
        "cookie_secret": cookie_secret,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "server_metadata_url": f"{issuer.rstrip('/')}/.well-known/openid-configuration",
    }
    lines = ["[auth]", *(f"{key} = {json.dumps(value)}" for key, value in values.items()),
             # The dashboard calls the API with the user's access token (st.user.tokens.access).
             'expose_tokens = ["access"]',
             "",
             "[auth.client_kwargs]",
             f"scope = {json.dumps(SCOPE)}",
             ""]
    return "\n".join(lines)


class DashboardServer:
    """`python -m streamlit run frontend/streamlit_app.py` on ``127.0.0.1:port``, against the API at
    ``backend_url``, logging users in at the identity provider ``issuer``.

    ``public_host`` is the host name browsers use: the OIDC redirect URI is built from it, and
    Streamlit's login cookie only comes back to that same host, so open the dashboard at ``url``.
    The identity provider must accept ``redirect_uri`` (sandbox/users.json registers port 8501;
    ``IdpServer(redirect_uris=...)`` adds others). ``run_dir`` receives the generated
    secrets.toml (default: a temporary directory, removed by ``stop()``); ``log_path=None`` logs
    to a temporary file. ``watch_files=False`` turns Streamlit's file watcher off (tests,
    benchmarks: it costs CPU and reruns nothing there).
    """

    def __init__(self, backend_url: str, issuer: str, port: int | None = None, *, host: str = "127.0.0.1",
                 public_host: str = "127.0.0.1", run_dir: str | Path | None = None,
                 log_path: str | Path | None = None, app: str | Path = DEFAULT_APP, watch_files: bool = True,
                 env: Mapping[str, str] | None = None):
        self.backend_url = backend_url.rstrip("/")
        self.issuer = issuer.rstrip("/")
        self.port = port or free_port()
        self.host = host
        self.public_host = public_host
        self._own_run_dir = run_dir is None
        self.run_dir = Path(run_dir) if run_dir else None
        self.log_path = Path(log_path) if log_path else None
        self.app = Path(app)
        self.watch_files = watch_files
        self.extra_env = dict(env or {})
        #: The Streamlit process while started, else None.
        self.process: ServerProcess | None = None

    @property
    def url(self) -> str:
        """Where a browser opens the dashboard."""
        return f"http://{self.public_host}:{self.port}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}/oauth2callback"

    @property
    def secrets_path(self) -> Path | None:
        return self.run_dir / "dashboard-secrets.toml" if self.run_dir else None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "streamlit", "run", str(self.app),
            "--server.port", str(self.port),
            "--server.address", self.host,
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
            # Replaces Streamlit's search list (~/.streamlit, ./.streamlit, next to the app):
            # only the generated file configures login, whatever lies around on the machine.
            "--secrets.files", str(self.secrets_path),
            *([] if self.watch_files else ["--server.fileWatcherType", "none"]),
        ]

    def start(self, timeout: float = 60) -> DashboardServer:
        """Write the secrets, start Streamlit and wait until its health endpoint answers 200."""
        if not self.app.is_file():
            raise RuntimeError(f"the dashboard app {self.app} does not exist")
        if self.run_dir is None:
            self.run_dir = Path(tempfile.mkdtemp(prefix="dashboard-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # A fresh cookie secret per start: logins do not outlive the process that signed them.
        text = auth_secrets_toml(self.redirect_uri, self.issuer, secrets.token_urlsafe(32))
        descriptor = os.open(self.secrets_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)

        env = {key: value for key, value in os.environ.items() if key not in _CALLER_CREDENTIALS}
        env.update(DRIFT_MONITOR_URL=self.backend_url, DRIFT_MONITOR_MYTOKEN_SERVER=self.issuer, **self.extra_env)
        self.process = ServerProcess(self.command(), self.log_path, name="the dashboard (streamlit)",
                                     cwd=REPO_ROOT, env=env)
        url = f"http://{self.host}:{self.port}{HEALTH_PATH}"
        try:
            self.process.wait_until(lambda: http_ok(url), timeout, f"answer at {url}")
        except BaseException:  # including Ctrl-C: leave no server behind
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=STOP_TIMEOUT)
            self.process = None
        if self._own_run_dir and self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir = None
