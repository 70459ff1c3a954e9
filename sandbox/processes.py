"""Child server processes (database, identity provider, API) for tests, benchmarks and `make run`.

One place for child-process handling, so that every server is started, awaited and stopped
the same way:

- output (stdout and stderr) is appended to a log file, never a pipe: nobody drains a pipe
  while the server runs, and a full pipe would block the server;
- the child runs in its own session, so Ctrl-C in a terminal reaches only the parent, which
  then stops its children in the order it wants;
- on Linux the child gets SIGTERM when its parent dies (PR_SET_PDEATHSIG), so a parent that
  is killed outright leaves no servers behind. The kernel sends it when the *thread* that
  started the child ends, so start servers from a thread that lives as long as they should;
- errors while waiting for a server name it and quote the end of its log.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import requests

POLL_SECONDS = 0.1


class ServerStartError(RuntimeError):
    """A server exited, or did not become ready in time, while it was awaited."""


class ServerProcess:
    """A server started as a child process (started by the constructor).

    ``log_path=None`` logs to a temporary file, which ``stop()`` deletes.
    """

    def __init__(self, command: Sequence[str], log_path: str | Path | None, *, name: str,
                 cwd: str | Path | None = None, env: Mapping[str, str] | None = None):
        self.name = name
        self._temporary_log = log_path is None
        if log_path is None:
            descriptor, log_path = tempfile.mkstemp(prefix="server-", suffix=".log")
            os.close(descriptor)
        self.log_path = Path(log_path)
        with open(self.log_path, "ab") as log:
            # The log may hold earlier runs: output() and log_tail() read from here on.
            self._log_offset = log.tell()
            self._popen = subprocess.Popen(
                list(command), cwd=cwd, env=None if env is None else dict(env),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent(),
            )

    def __repr__(self) -> str:
        return f"<ServerProcess {self.name!r} pid={self.pid} exit_code={self.exit_code()}>"

    @property
    def pid(self) -> int:
        return self._popen.pid

    def exit_code(self) -> int | None:
        """The exit code, or None while the process runs (negative: killed by that signal)."""
        return self._popen.poll()

    @property
    def running(self) -> bool:
        return self.exit_code() is None

    def wait_until(self, check: Callable[[], bool], timeout: float, description: str) -> None:
        """Poll ``check`` until it returns True; raise ServerStartError if the process exits first
        or ``timeout`` seconds pass.

        ``description`` completes "did not ... within N s", e.g. "answer at http://127.0.0.1:5000".
        ``check`` should return False, not raise, while the server is not ready.
        """
        deadline = time.monotonic() + timeout
        while True:
            code = self.exit_code()
            if code is not None:
                raise ServerStartError(f"{self.name} exited with code {code} before it could {description}; "
                                       f"{self.log_tail()}")
            if check():
                return
            if time.monotonic() >= deadline:
                raise ServerStartError(f"{self.name} did not {description} within {timeout:g} s; "
                                       f"{self.log_tail()}")
            time.sleep(POLL_SECONDS)

    def stop(self, kill: bool = False, timeout: float = 10.0) -> None:
        """Terminate (or with ``kill``, kill) the process and wait for it; kill it if it outlives
        ``timeout``. Safe to call again, and after the process has exited on its own."""
        if self._popen.poll() is None:
            if kill:
                self._kill()
            else:
                self._popen.terminate()
            try:
                self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                self._popen.wait()
        if self._temporary_log:
            self.log_path.unlink(missing_ok=True)

    def _kill(self) -> None:
        # The whole session (its process group has the child's pid), so that processes the
        # server forked (gunicorn's workers) go too. Called only before the child is reaped,
        # while its pid cannot have been reused.
        try:
            os.killpg(self._popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def output(self) -> str:
        """What the process has written to its log so far."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 25) -> str:
        """The last lines of the output, introduced by where they come from (for error messages)."""
        tail = self.output().splitlines()[-lines:]
        if not tail:
            return f"no output in {self.log_path}"
        source = "its output" if self._temporary_log else str(self.log_path)
        return f"last lines of {source}:\n    " + "\n    ".join(tail)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when GET ``url`` answers 200; a check for ``ServerProcess.wait_until``."""
    try:
        return requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False  # not accepting connections yet


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect: do not start at all
            os._exit(1)

    return preexec
