"""`python -m sandbox.run_stack` (what `make run` runs), started as a user would, on free ports."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from sandbox.database import free_port
from sandbox.run_stack import READY_LINE

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10
START_SECONDS = 60
STOP_SECONDS = 10
ALICE_SUB = "cc6265af-3543-41d6-bd2a-1a39dccd9b7c"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")


class Stack:
    """The run_stack process, its output collected by a thread."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.run_stack"], cwd=REPO_ROOT, env=env, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            if READY_LINE in line:
                self.ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self) -> str:
        deadline = time.monotonic() + START_SECONDS
        while not self.ready.wait(0.1):
            assert self.process.poll() is None, f"run_stack exited with {self.process.returncode}:\n{self.output}"
            assert time.monotonic() < deadline, f"no banner within {START_SECONDS} s:\n{self.output}"
        return self.output

    def wait_exit(self, seconds: float) -> int:
        try:
            code = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run_stack still running {seconds} s later:\n{self.output}")
        self.reader.join(timeout=5)
        return code


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until_gone(pids: list[int], ports: list[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids) and not any(port_open(port) for port in ports):
            return
        time.sleep(0.1)
    left = [f"{pid}: {command_line(pid)}" for pid in pids if alive(pid)]
    pytest.fail(f"still running after {seconds} s: {left}; open ports: {[p for p in ports if port_open(p)]}")


@pytest.fixture
def stack_env(tmp_path):
    ports = set()
    while len(ports) < 4:
        ports.add(free_port())
    backend, idp, database, dashboard = sorted(ports)
    env = {key: value for key, value in os.environ.items() if key != "MONGODB_URI"}  # the embedded database
    env.update(BACKEND_PORT=str(backend), IDP_PORT=str(idp), DATABASE_PORT=str(database),
               DASHBOARD_PORT=str(dashboard), RUN_DIR=str(tmp_path / "run"))
    return env


@pytest.fixture
def start_stack():
    started: list[Stack] = []

    def start(env: dict[str, str]) -> Stack:
        stack = Stack(env)
        started.append(stack)
        return stack

    yield start
    for stack in started:  # a failed test must not leave a stack behind
        children = descendants(stack.process.pid)
        if stack.process.poll() is None:
            stack.process.send_signal(signal.SIGINT)
            try:
                stack.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stack.process.kill()
                stack.process.wait()
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_make_run_serves_the_api_with_demo_data_and_stops_cleanly_on_ctrl_c(stack_env, start_stack):
    stack = start_stack(stack_env)
    banner = stack.wait_ready()
    base_url = f"http://127.0.0.1:{stack_env['BACKEND_PORT']}"
    issuer = f"http://127.0.0.1:{stack_env['IDP_PORT']}"
    dashboard = f"http://localhost:{stack_env['DASHBOARD_PORT']}"

    token = re.search(r"export TOKEN=(\S+)", banner).group(1)
    assert re.search(rf"export DRIFT_MONITOR_URL={re.escape(base_url)}\s", banner)
    assert re.search(rf"export DRIFT_MONITOR_MYTOKEN_SERVER={re.escape(issuer)}\s", banner)
    mytoken = re.search(r"export DRIFT_MONITOR_MYTOKEN=(\S+)", banner).group(1)
    for url in (f"{base_url}/api/v1", f"{base_url}/api/docs", f"{base_url}/api/health", issuer):
        assert url in banner
    assert (Path(stack_env["RUN_DIR"]) / "backend.log").is_file()
    assert (Path(stack_env["RUN_DIR"]) / "database").is_dir()

    # The dashboard comes first in the banner's table, and answers; its login settings stay in RUN_DIR.
    rows = [line.split() for line in banner.splitlines()]
    first = next(index for index, row in enumerate(rows) if row[:1] == ["API"]) - 1
    assert rows[first] == ["Dashboard", dashboard, "—", "log", "in", "as", "alice"], banner
    health = requests.get(f"http://127.0.0.1:{stack_env['DASHBOARD_PORT']}/_stcore/health", timeout=TIMEOUT)
    assert health.status_code == 200 and health.text == "ok"
    secrets_toml = (Path(stack_env["RUN_DIR"]) / "dashboard-secrets.toml").read_text()
    assert f'redirect_uri = "{dashboard}/oauth2callback"' in secrets_toml
    assert f'server_metadata_url = "{issuer}/.well-known/openid-configuration"' in secrets_toml
    # ... and the identity provider accepts that redirect URI although users.json has only port 8501.
    authorize = requests.get(f"{issuer}/authorize", allow_redirects=False, timeout=TIMEOUT, params={
        "response_type": "code", "client_id": "drift-monitor-dashboard", "scope": "openid",
        "redirect_uri": f"{dashboard}/oauth2callback"})
    assert authorize.status_code == 200 and 'id="login-alice"' in authorize.text

    alice = {"Authorization": f"Bearer {token}"}
    response = requests.get(f"{base_url}/api/v1/user/self", headers=alice, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.json()["subject"] == ALICE_SUB
    found = requests.post(f"{base_url}/api/v1/experiment/search", json={"name": "fraud-realtime"}, headers=alice,
                          timeout=TIMEOUT).json()
    assert len(found) == 1
    runs = requests.post(f"{base_url}/api/v1/experiment/{found[0]['id']}/drift/search", json={}, headers=alice,
                         timeout=TIMEOUT)
    assert runs.status_code == 200 and len(runs.json()) >= 10
    assert requests.get(f"{base_url}/api/docs", timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{base_url}/api/health", timeout=TIMEOUT).json()["database"] == "ok"

    # The printed way to a fresh token works.
    fresh = requests.post(f"{issuer}/api/v0/token/access", json={"grant_type": "mytoken", "mytoken": mytoken},
                          timeout=TIMEOUT)
    assert fresh.status_code == 200, fresh.text
    response = requests.get(f"{base_url}/api/v1/user/self", timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {fresh.json()['access_token']}"})
    assert response.status_code == 200

    children = descendants(stack.process.pid)
    commands = " | ".join(command_line(pid) for pid in children)
    assert "secantusd" in commands and "sandbox.idp" in commands and "gunicorn" in commands, commands
    assert "streamlit run" in commands, commands

    stack.process.send_signal(signal.SIGINT)
    assert stack.wait_exit(STOP_SECONDS) == 0, stack.output
    ports = [int(stack_env[name]) for name in ("BACKEND_PORT", "IDP_PORT", "DATABASE_PORT", "DASHBOARD_PORT")]
    wait_until_gone(children, ports, seconds=3)
    assert "stopped" in stack.output


def test_a_taken_port_names_the_variable_to_change(stack_env, start_stack):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stack_env["IDP_PORT"] = str(taken.getsockname()[1])
        stack = start_stack(stack_env)
        assert stack.wait_exit(TIMEOUT) != 0
    assert "IDP_PORT" in stack.output and stack_env["IDP_PORT"] in stack.output
    assert descendants(stack.process.pid) == []


def test_a_child_that_dies_stops_the_stack_with_a_clear_message(stack_env, start_stack):
    stack = start_stack({**stack_env, "LOAD_DEMO_DATA": "0"})
    stack.wait_ready()
    children = descendants(stack.process.pid)
    (idp,) = [pid for pid in children if "sandbox.idp" in command_line(pid)]

    os.kill(idp, signal.SIGKILL)
    assert stack.wait_exit(STOP_SECONDS) == 1
    assert "identity provider exited unexpectedly" in stack.output
    ports = [int(stack_env[name]) for name in ("BACKEND_PORT", "IDP_PORT", "DATABASE_PORT", "DASHBOARD_PORT")]
    wait_until_gone(children, ports, seconds=3)
