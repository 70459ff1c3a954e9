"""sandbox.processes.ServerProcess, with small Python one-liners as servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sandbox.processes import ServerProcess, ServerStartError

REPO_ROOT = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="PR_SET_PDEATHSIG and /proc are Linux only")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_output_goes_to_the_log_after_what_was_there(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("an earlier run\n")
    process = ServerProcess(python("print('hello', flush=True); import time; time.sleep(60)"), log, name="the server")
    try:
        process.wait_until(lambda: "hello" in process.output(), timeout=10, description="say hello")
        assert process.running and process.exit_code() is None
        assert process.output() == "hello\n"
        assert log.read_text() == "an earlier run\nhello\n"
        assert process.log_tail() == f"last lines of {log}:\n    hello"
    finally:
        process.stop()
    assert process.exit_code() == -signal.SIGTERM
    assert not process.running


def test_an_exit_while_waiting_names_the_server_and_quotes_its_log(tmp_path):
    process = ServerProcess(python("import sys; print('cannot bind'); sys.exit(3)"), tmp_path / "server.log",
                            name="the server")
    with pytest.raises(ServerStartError, match=r"(?s)the server exited with code 3 before it could answer.*cannot bind"):
        process.wait_until(lambda: False, timeout=10, description="answer")


def test_a_timeout_names_the_server_and_quotes_its_log(tmp_path):
    process = ServerProcess(python("print('still booting', flush=True); import time; time.sleep(60)"),
                            tmp_path / "server.log", name="the server")
    try:
        with pytest.raises(ServerStartError, match=r"(?s)the server did not answer within 0.5 s.*still booting"):
            process.wait_until(lambda: False, timeout=0.5, description="answer")
    finally:
        process.stop()


def test_stop_kills_what_ignores_sigterm_and_can_be_repeated(tmp_path):
    code = """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print('ready', flush=True)
        time.sleep(60)
    """
    process = ServerProcess(python(code), tmp_path / "server.log", name="the server")
    process.wait_until(lambda: "ready" in process.output(), timeout=10, description="get ready")
    started = time.monotonic()
    process.stop(timeout=0.5)
    assert time.monotonic() - started < 5
    assert process.exit_code() == -signal.SIGKILL
    process.stop()  # idempotent


@linux_only
def test_kill_takes_the_processes_the_server_forked(tmp_path):
    code = """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
        print(child.pid, flush=True)
        time.sleep(60)
    """
    process = ServerProcess(python(code), tmp_path / "server.log", name="the server")
    process.wait_until(lambda: process.output().strip().isdigit(), timeout=10, description="fork")
    grandchild = int(process.output())
    process.stop(kill=True)
    deadline = time.monotonic() + 5
    while _alive(grandchild):
        assert time.monotonic() < deadline, "the forked process outlived the kill"
        time.sleep(0.05)


def test_a_temporary_log_is_deleted_by_stop():
    process = ServerProcess(python("print('hi', flush=True); import time; time.sleep(60)"), None, name="the server")
    try:
        process.wait_until(lambda: "hi" in process.output(), timeout=10, description="say hi")
        assert process.log_tail() == "last lines of its output:\n    hi"
    finally:
        process.stop()
    assert not process.log_path.exists()


@linux_only
def test_the_server_runs_in_its_own_session_and_dies_with_its_parent(tmp_path):
    # A parent that starts a server, prints its pid and is then killed outright.
    code = f"""
        import sys, time
        from sandbox.processes import ServerProcess
        server = ServerProcess([sys.executable, '-c', 'import time; time.sleep(60)'], {str(tmp_path / "s.log")!r},
                               name='the server')
        print(server.pid, flush=True)
        time.sleep(60)
    """
    parent = subprocess.Popen(python(code), cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        server = int(parent.stdout.readline())
        assert os.getsid(server) == server != os.getsid(0)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(server):
            assert time.monotonic() < deadline, "the server outlived its parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False
