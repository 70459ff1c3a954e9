"""`make run`: database, sandbox identity provider and API with demo data, until Ctrl-C.

    python -m sandbox.run_stack

Environment (all optional):

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
idempotent). SIGINT (Ctrl-C), SIGTERM or SIGHUP stop every process started here:
the API first, then the identity provider, then the database. If one of them exits on
its own, the others are stopped and the exit status is 1.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import requests

from .database import EmbeddedMongo
from .demo_data import DEMO_EXPERIMENT_NAMES, DEMO_USERS, DemoDataError, load_demo_data
from .idp.launcher import DEFAULT_USERS_FILE, SandboxIdp, SandboxIdpError

REPO_ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
ADMINS_GROUP = "urn:example:drift-monitor:admins"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 25.0  # gunicorn's graceful_timeout is 20 s
POLL_SECONDS = 0.5
#: Printed once everything is up; tests wait for it.
READY_LINE = "Press Ctrl-C to stop the stack."


class StackError(RuntimeError):
    """The stack cannot start or a part of it failed; the message says what to do."""


class _StopRequested(BaseException):
    """Raised by the signal handler (a BaseException, like KeyboardInterrupt)."""


@dataclass(frozen=True)
class Config:
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
# Child processes
# --------------------------------------------------------------------------------------


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM if this process dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


class Child:
    """A server process with its own log file, started in its own session.

    Its own session: Ctrl-C in the terminal reaches only this script, which then stops
    the children in order. With PR_SET_PDEATHSIG the child also stops if this script is
    killed outright.
    """

    def __init__(self, name: str, command: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.name = name
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent(),
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_until_answering(self, url: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exited() is not None:
                raise StackError(f"{self.name} exited with code {self.process.returncode} while starting; "
                                 f"{log_tail(self.log_path)}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise StackError(f"{self.name} did not answer at {url} within {timeout:.0f} s; {log_tail(self.log_path)}")


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"no log at {path}"
    return f"last lines of {path}:\n    " + "\n    ".join(tail)


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


def _start_database(config: Config, stack: ExitStack) -> tuple[str, str, Callable[[], int | None]]:
    """(URI, description, exit-code probe) of the database to use."""
    if config.mongodb_uri:
        return config.mongodb_uri, "MONGODB_URI", lambda: None
    storage = config.run_dir / "database"
    database = EmbeddedMongo(port=config.database_port, storage_path=storage,
                             log_path=config.run_dir / "database.log")
    stack.callback(database.stop)  # before start(): an interrupted start is stopped too
    print(f"starting the embedded database on port {config.database_port} (data in {storage}) ...", flush=True)
    try:
        database.start()
    except RuntimeError as error:
        raise StackError(f"the embedded database did not start: {error}") from error

    def exited() -> int | None:
        if database.running:
            return None
        process = getattr(database, "_process", None)  # EmbeddedMongo keeps its Popen private
        return getattr(process, "returncode", None) or -1

    return database.uri, f"embedded SecantusDB, data in {storage}", exited


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
 API                {api}
 Swagger UI         {config.base_url}/api/docs
 Health             {config.base_url}/api/health
 Identity provider  {config.issuer}   (users: alice, bob, carol, admin, mallory)
 Database           {database}; database {config.database_name!r}
 Logs               {config.run_dir}/{{backend,idp,database}}.log
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
   export MYTOKEN_SERVER={config.issuer}

 Try:
   curl -s -H "Authorization: Bearer $TOKEN" {api}/user/self
   curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
        -d '{{"name": "credit-scoring"}}' {api}/experiment/search
================================================================================
{READY_LINE}
"""


def run(config: Config) -> None:
    """Start everything, print the banner, and wait; returns only by an exception."""
    ports = [(config.backend_port, "BACKEND_PORT"), (config.idp_port, "IDP_PORT")]
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
        # Callbacks run last-in first-out: API, then identity provider, then database.
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
    uri, database, database_exited = _start_database(config, stack)

    print(f"starting the sandbox identity provider on port {config.idp_port} ...", flush=True)
    idp_process = Child(
        "the sandbox identity provider",
        [sys.executable, "-m", "sandbox.idp", "--host", HOST, "--port", str(config.idp_port),
         "--users", str(DEFAULT_USERS_FILE)],
        config.run_dir / "idp.log",
    )
    stack.callback(idp_process.stop)
    idp_process.wait_until_answering(f"{config.issuer}/.well-known/openid-configuration")
    idp = SandboxIdp(config.issuer)

    print(f"starting the API (gunicorn) on port {config.backend_port} ...", flush=True)
    env = {
        **os.environ,
        "APP_DATABASE_URI": uri,
        "APP_DATABASE_NAME": config.database_name,
        "APP_TRUSTED_OP_LIST": json.dumps([config.issuer]),
        "APP_ADMIN_ENTITLEMENTS": os.environ.get("APP_ADMIN_ENTITLEMENTS") or json.dumps([ADMINS_GROUP]),
    }
    backend = Child(
        "the API (gunicorn)",
        [sys.executable, "-m", "gunicorn", "-c", "backend/gunicorn.conf.py",
         "--bind", f"{HOST}:{config.backend_port}"],
        config.run_dir / "backend.log",
        env=env,
    )
    stack.callback(backend.stop)
    backend.wait_until_answering(f"{config.base_url}/api/health")

    try:
        demo = _load_demo(config, idp)
    except (DemoDataError, SandboxIdpError, requests.RequestException) as error:
        raise StackError(f"loading the demo data failed: {error}; {log_tail(config.run_dir / 'backend.log')}") from error
    print(banner(config, database, demo, idp.user_token("alice"), idp.mytoken("alice")), flush=True)

    watched = [
        ("the API (gunicorn)", backend.exited, config.run_dir / "backend.log"),
        ("the sandbox identity provider", idp_process.exited, config.run_dir / "idp.log"),
        ("the embedded database", database_exited, config.run_dir / "database.log"),
    ]
    while True:
        for name, exited, log_path in watched:
            code = exited()
            if code is not None:
                time.sleep(0.3)  # a Ctrl-C in the terminal also reaches the database: let its signal land
                raise StackError(f"{name} exited unexpectedly with code {code}; stopping the others. "
                                 f"{log_tail(log_path)}")
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
