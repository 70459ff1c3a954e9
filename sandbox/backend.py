"""Run the backend under gunicorn as a child process (end-to-end tests, benchmarks, `make run`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from .database import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def start_backend(app_env: Mapping[str, str], port: int | None = None, host: str = "127.0.0.1",
                  workers: int = 2, threads: int = 8, log_path: str | Path | None = None,
                  timeout: float = 30) -> Iterator[str]:
    """Serve the API with `python -m gunicorn -c backend/gunicorn.conf.py`; yield its base URL."""
    port = port or free_port()
    env = {**os.environ, **app_env, "GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": str(threads)}
    log_file = open(log_path, "ab") if log_path else tempfile.NamedTemporaryFile(prefix="backend-", suffix=".log",
                                                                                delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "backend/gunicorn.conf.py", "--bind", f"{host}:{port}"],
        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
    )
    base_url = f"http://{host}:{port}"
    try:
        _wait_until_serving(base_url, process, Path(log_file.name), timeout)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()
        if not log_path:
            Path(log_file.name).unlink(missing_ok=True)


def _wait_until_serving(base_url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the backend exited with code {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{base_url}/api/version", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the backend did not answer at {base_url} within {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
