"""Run the backend under gunicorn as a child process (end-to-end tests, benchmarks, `make run`)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .database import free_port
from .processes import ServerProcess, http_ok

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The sandbox users' administrators group (sandbox/users.json).
SANDBOX_ADMINS_GROUP = "urn:example:drift-monitor:admins"


#: The audience of the sandbox provider's access tokens.
SANDBOX_AUDIENCE = "drift-monitor"


def sandbox_app_env(database_uri: str, database_name: str, issuer: str, **overrides: str) -> dict[str, str]:
    """The APP_* environment of a backend that trusts the sandbox identity provider at `issuer`."""
    return {
        "APP_DATABASE_URI": database_uri,
        "APP_DATABASE_NAME": database_name,
        "APP_TRUSTED_OP_LIST": json.dumps([issuer]),
        "APP_ADMIN_ENTITLEMENTS": json.dumps([SANDBOX_ADMINS_GROUP]),
        # The sandbox provider is http:// on loopback: development settings. Its tokens carry
        # aud "drift-monitor" (sandbox/idp/tokens.py), checked as production would.
        "APP_ENVIRONMENT": "development",
        "APP_TOKEN_AUDIENCE": SANDBOX_AUDIENCE,
        # Benchmarks and end-to-end tests report thousands of runs a minute as one user.
        "APP_QUOTA_RUNS_PER_MINUTE": "0",
        **overrides,
    }

#: gunicorn's graceful_timeout is 20 s; a little more lets it stop its workers itself.
STOP_TIMEOUT = 25.0


class BackendServer:
    """The API served by `python -m gunicorn -c backend/gunicorn.conf.py` on ``host:port``.

    ``app_env`` is added to this process's environment. ``workers`` and ``threads`` set
    GUNICORN_WORKERS and GUNICORN_THREADS; None leaves them to the environment (default 2 x 8).
    ``log_path=None`` logs to a temporary file, deleted by ``stop()``.
    """

    def __init__(self, app_env: Mapping[str, str], port: int | None = None, host: str = "127.0.0.1",
                 workers: int | None = None, threads: int | None = None, log_path: str | Path | None = None):
        self.app_env = dict(app_env)
        self.port = port or free_port()
        self.host = host
        self.workers = workers
        self.threads = threads
        self.log_path = Path(log_path) if log_path else None
        #: The gunicorn master process while started, else None.
        self.process: ServerProcess | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30, ready_path: str = "/api/version") -> BackendServer:
        """Start gunicorn and wait until GET ``ready_path`` answers 200.

        The default needs no database; "/api/health" waits for the database too.
        """
        env = {**os.environ, **self.app_env}
        if self.workers is not None:
            env["GUNICORN_WORKERS"] = str(self.workers)
        if self.threads is not None:
            env["GUNICORN_THREADS"] = str(self.threads)
        self.process = ServerProcess(
            [sys.executable, "-m", "gunicorn", "-c", "backend/gunicorn.conf.py", "--bind", f"{self.host}:{self.port}"],
            self.log_path, name="the API (gunicorn)", cwd=REPO_ROOT, env=env,
        )
        url = self.base_url + ready_path
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


@contextmanager
def start_backend(app_env: Mapping[str, str], port: int | None = None, host: str = "127.0.0.1",
                  workers: int = 2, threads: int = 8, log_path: str | Path | None = None,
                  timeout: float = 30) -> Iterator[str]:
    """Serve the API with `python -m gunicorn -c backend/gunicorn.conf.py`; yield its base URL."""
    server = BackendServer(app_env, port=port, host=host, workers=workers, threads=threads, log_path=log_path)
    server.start(timeout)
    try:
        yield server.base_url
    finally:
        server.stop()
