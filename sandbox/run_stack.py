"""`make run`: database, sandbox identity provider, API with demo data and the dashboard, until Ctrl-C.

    python -m sandbox.run_stack

Environment (all optional):

    DASHBOARD_PORT    dashboard port (default 8501); open http://localhost:DASHBOARD_PORT
    BACKEND_PORT      API port (default 5000)
    IDP_PORT          sandbox identity provider port (default 5001); issuer http://127.0.0.1:IDP_PORT
    DATABASE_PORT     embedded SecantusDB port (default 27017)
    MONGODB_URI       use this MongoDB instead of the embedded one
    APP_DATABASE_NAME database name (default drifts-data)
    RUN_DIR           logs and embedded database files (default .run/ in the repository)
    LOAD_DEMO_DATA    0 to never load the demo data (default 1)

Other APP_* and GUNICORN_* variables reach the backend unchanged.

The embedded database keeps its files in RUN_DIR/database, so data survives restarts;
`make clean` (or deleting .run/) starts afresh. Demo data is loaded when the database
holds no experiments other than the demo ones (see sandbox/demo_data.py; loading is
idempotent).

The dashboard (frontend/streamlit_app.py, see sandbox/dashboard.py) logs users in at the
sandbox identity provider with its client `drift-monitor-dashboard`; its st.login settings
are generated into RUN_DIR/dashboard-secrets.toml at every start, with a fresh cookie
secret, so a restart logs everybody out. The provider is told to accept the dashboard's
redirect URI on DASHBOARD_PORT.

SIGINT (Ctrl-C), SIGTERM or SIGHUP stop every process started here: the dashboard first,
then the API, the identity provider and the database. If one of them exits on its own,
the others are stopped and the exit status is 1.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import requests

from .backend import BackendServer, sandbox_app_env
from .dashboard import CLIENT_ID as DASHBOARD_CLIENT_ID
from .dashboard import DashboardServer, redirect_uris
from .database import EmbeddedMongo
from .demo_data import DEMO_EXPERIMENT_NAMES, DEMO_USERS, DemoDataError, load_demo_data
from .idp.launcher import DEFAULT_USERS_FILE, IdpServer, SandboxIdp, SandboxIdpError
from .processes import ServerProcess

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
DASHBOARD_HOST = "localhost"
START_TIMEOUT = 60.0
POLL_SECONDS = 0.5
#: Printed once everything is up; tests wait for it.
READY_LINE = "Press Ctrl-C to stop the stack."


class StackError(RuntimeError):
    """The stack cannot start or a part of it failed; the message says what to do."""


class _StopRequested(BaseException):
    """Raised by the signal handler (a BaseException, like KeyboardInterrupt)."""


@dataclass(frozen=True)
class Config:
    dashboard_port: int
    backend_port: int
    idp_port: int
    database_port: int
    mongodb_uri: str | None
    database_name: str
    run_dir: Path
    load_demo_data: bool

    @classmethod
    def from_environ(cls, env=os.environ) -> Config:
        run_dir = Path(env.get("RUN_DIR") or REPO_ROOT / ".run")
        return cls(
            dashboard_port=_port(env, "DASHBOARD_PORT", 8501),
            backend_port=_port(env, "BACKEND_PORT", 5000),
            idp_port=_port(env, "IDP_PORT", 5001),
            database_port=_port(env, "DATABASE_PORT", 27017),
            mongodb_uri=env.get("MONGODB_URI", "").strip() or None,
            database_name=env.get("APP_DATABASE_NAME", "").strip() or "drifts-data",
            run_dir=run_dir.resolve(),
            load_demo_data=env.get("LOAD_DEMO_DATA", "1").strip().lower() not in ("0", "false", "no", "off"),
        )

    @property
    def issuer(self) -> str:
        return f"http://{HOST}:{self.idp_port}"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.backend_port}"

    @property
    def dashboard_url(self) -> str:
        # localhost, as registered for the dashboard in sandbox/users.json: the browser must stay
        # on the host of the login redirect, which is where Streamlit sets its login cookie.
        return f"http://{DASHBOARD_HOST}:{self.dashboard_port}"


def _port(env, name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{name} must be a port number, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise StackError(f"{name} must be between 1 and 65535, got {port}")
    return port


def check_port_free(port: int, variable: str) -> None:
    with socket.socket() as sock:
        # As servers bind: a port left in TIME_WAIT is usable, one with a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            hint = " (or set MONGODB_URI to use the MongoDB already there)" if variable == "DATABASE_PORT" else ""
            raise StackError(
                f"port {port} is already in use (set by {variable}). Stop what uses it, or choose "
                f"another port, e.g. `{variable}={port + 100} make run`{hint}."
            ) from None


# --------------------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------------------


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _install_signal_handlers() -> None:
    def handler(signum, frame):
        _ignore_stop_signals()  # the stop is under way; further signals must not interrupt it
        raise _StopRequested(signal.Signals(signum).name)

    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)


def _ignore_stop_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _start_database(config: Config, stack: ExitStack) -> tuple[str, str, ServerProcess | None]:
    """(URI, description, our server process or None) of the database to use."""
    if config.mongodb_uri:
        return config.mongodb_uri, "MONGODB_URI", None
    storage = config.run_dir / "database"
    # durable: `make run` keeps dev data, and without fsync a killed server loses its last second of writes.
    database = EmbeddedMongo(port=config.database_port, storage_path=storage,
                             log_path=config.run_dir / "database.log", durable=True)
    stack.callback(database.stop)  # before start(): an interrupted start is stopped too
    print(f"starting the embedded database on port {config.database_port} (data in {storage}) ...", flush=True)
    try:
        database.start()
    except RuntimeError as error:
        raise StackError(f"the embedded database did not start: {error}") from error
    return database.uri, f"embedded SecantusDB, data in {storage}", database.process


def _load_demo(config: Config, idp: SandboxIdp) -> str:
    if not config.load_demo_data:
        return "not loaded (LOAD_DEMO_DATA=0)"
    tokens = {username: idp.user_token(username) for username in DEMO_USERS}
    # Only into a database without experiments of its own: yours are left alone.
    response = requests.post(f"{config.base_url}/api/v1/experiment/search", params={"page_size": 100}, json={},
                             headers={"Authorization": f"Bearer {tokens['admin']}"}, timeout=15)
    response.raise_for_status()
    others = [experiment["name"] for experiment in response.json() if experiment["name"] not in DEMO_EXPERIMENT_NAMES]
    if others:
        return f"not loaded: the database already holds other experiments ({', '.join(others[:3])}, ...)"
    print("loading demo data through the API ...", flush=True)
    summary = load_demo_data(config.base_url, tokens)
    listing = ", ".join(f"{name} ({count} runs)" for name, count in summary.runs.items())
    if summary.skipped:
        return f"already present: {listing}"
    return f"loaded {summary.runs_created} runs: {listing}"


def banner(config: Config, database: str, demo: str, alice_token: str, alice_mytoken: str) -> str:
    api = f"{config.base_url}/api/v1"
    return f"""
================================================================================
 Drift Monitoring sandbox is running
================================================================================
 Dashboard          {config.dashboard_url} — log in as alice
 API                {api}
 Swagger UI         {config.base_url}/api/docs
 Health             {config.base_url}/api/health
 Identity provider  {config.issuer}   (users: alice, bob, carol, admin, mallory)
 Database           {database}; database {config.database_name!r}
 Logs               {config.run_dir}/{{dashboard,backend,idp,database}}.log
 Demo data          {demo}

 Access token for alice (valid 1 hour):
   export TOKEN={alice_token}

 A fresh one from alice's MyToken:
   curl -s -X POST {config.issuer}/api/v0/token/access -H 'Content-Type: application/json' \\
        -d '{{"grant_type":"mytoken","mytoken":"{alice_mytoken}"}}'

 alice's MyToken: {alice_mytoken}

 For the drift-monitor client:
   export DRIFT_MONITOR_URL={config.base_url}
   export DRIFT_MONITOR_MYTOKEN={alice_mytoken}
   export DRIFT_MONITOR_MYTOKEN_SERVER={config.issuer}

 Try:
   curl -s -H "Authorization: Bearer $TOKEN" {api}/user/self
   curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
        -d '{{"name": "credit-scoring"}}' {api}/experiment/search
================================================================================
{READY_LINE}
"""


def run(config: Config) -> None:
    """Start everything, print the banner, and wait; returns only by an exception."""
    ports = [(config.dashboard_port, "DASHBOARD_PORT"), (config.backend_port, "BACKEND_PORT"),
             (config.idp_port, "IDP_PORT")]
    if not config.mongodb_uri:
        ports.append((config.database_port, "DATABASE_PORT"))
    seen: dict[int, str] = {}
    for port, variable in ports:
        if port in seen:
            raise StackError(f"{variable} and {seen[port]} are both {port}; give them different ports")
        seen[port] = variable
        check_port_free(port, variable)
    config.run_dir.mkdir(parents=True, exist_ok=True)

    with ExitStack() as stack:
        # Callbacks run last-in first-out: dashboard, API, identity provider, database.
        try:
            _run_until_stopped(config, stack)
        except StackError as error:
            _report(error)  # before the clean-up, which takes a few seconds
            error.reported = True
            raise
        finally:
            _ignore_stop_signals()  # a second Ctrl-C must not cut the clean-up short
            print("stopping the stack ...", flush=True)


def _run_until_stopped(config: Config, stack: ExitStack) -> NoReturn:
    uri, database, database_process = _start_database(config, stack)

    print(f"starting the sandbox identity provider on port {config.idp_port} ...", flush=True)
    # users.json registers the dashboard's callback on port 8501 only; DASHBOARD_PORT may differ.
    idp_server = IdpServer(HOST, config.idp_port, users_file=DEFAULT_USERS_FILE, log_path=config.run_dir / "idp.log",
                           redirect_uris={DASHBOARD_CLIENT_ID: redirect_uris(config.dashboard_port)})
    stack.callback(idp_server.stop)
    try:
        idp_server.start(timeout=START_TIMEOUT)
    except SandboxIdpError as error:
        raise StackError(str(error)) from error
    idp = SandboxIdp(config.issuer)

    print(f"starting the API (gunicorn) on port {config.backend_port} ...", flush=True)
    app_env = sandbox_app_env(uri, config.database_name, config.issuer)
    if os.environ.get("APP_ADMIN_ENTITLEMENTS"):  # yours win over the sandbox administrators group
        app_env["APP_ADMIN_ENTITLEMENTS"] = os.environ["APP_ADMIN_ENTITLEMENTS"]
    # No workers/threads: GUNICORN_* variables of the environment reach gunicorn unchanged.
    backend = BackendServer(app_env, port=config.backend_port, host=HOST, log_path=config.run_dir / "backend.log")
    stack.callback(backend.stop)
    try:
        # /api/health: ready only once the API reaches its database, too.
        backend.start(timeout=START_TIMEOUT, ready_path="/api/health")
    except RuntimeError as error:
        raise StackError(str(error)) from error

    print(f"starting the dashboard (streamlit) on port {config.dashboard_port} ...", flush=True)
    dashboard = DashboardServer(config.base_url, config.issuer, config.dashboard_port, host=HOST,
                                public_host=DASHBOARD_HOST, run_dir=config.run_dir,
                                log_path=config.run_dir / "dashboard.log")
    stack.callback(dashboard.stop)
    try:
        dashboard.start(timeout=START_TIMEOUT)
    except RuntimeError as error:
        raise StackError(str(error)) from error

    try:
        demo = _load_demo(config, idp)
    except (DemoDataError, SandboxIdpError, requests.RequestException) as error:
        raise StackError(f"loading the demo data failed: {error}; {backend.process.log_tail()}") from error
    print(banner(config, database, demo, idp.user_token("alice"), idp.mytoken("alice")), flush=True)

    watched = [dashboard.process, backend.process, idp_server.process]
    if database_process is not None:
        watched.append(database_process)
    while True:
        for process in watched:
            code = process.exit_code()
            if code is not None:
                # A signal that stopped the child may be on its way to this process too (sent to
                # a whole process group or container): let it land, so a stop is not reported as a failure.
                time.sleep(0.3)
                raise StackError(f"{process.name} exited unexpectedly with code {code}; stopping the others. "
                                 f"{process.log_tail()}")
        time.sleep(POLL_SECONDS)


def _report(error: StackError) -> None:
    print(f"\nsandbox stack: {error}", file=sys.stderr, flush=True)


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)
    _install_signal_handlers()
    try:
        config = Config.from_environ()
        run(config)
    except _StopRequested as stop:
        print(f"\n{stop.args[0]} received: the stack is stopped.", flush=True)
        return 0
    except StackError as error:
        if not getattr(error, "reported", False):
            _report(error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
