"""The `drift-monitor` command line, run in-process against the real backend."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import drift_monitor
import pytest
from client_support import NO_RETRY
from drift_monitor import Client, DriftMonitor
from drift_monitor._cli import main

from factories import USERS_GROUP
from sandbox.database import free_port


@pytest.fixture
def cli_env(monkeypatch, backend_url, user_token, spool_dir):
    """The environment of a shell user with a (not yet registered) token."""
    monkeypatch.setenv("DRIFT_MONITOR_URL", backend_url)
    monkeypatch.setenv("DRIFT_MONITOR_TOKEN", user_token)
    monkeypatch.setenv("DRIFT_MONITOR_SPOOL_DIR", str(spool_dir))


@pytest.fixture
def run(capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        status = main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return status, out, err
    return run


def test_register_twice_then_whoami(cli_env, run):
    status, out, _ = run("register")
    assert status == 0 and out.startswith("Registered")
    status, out, _ = run("register")
    assert status == 0 and "Already registered" in out
    status, out, _ = run("whoami")
    assert status == 0
    assert "@example.org" in out
    assert USERS_GROUP in out.splitlines()[-1]


def test_unregistered_user_is_told_to_register(cli_env, run):
    status, out, err = run("whoami")
    assert (status, out) == (1, "")
    assert "drift-monitor register" in err and len(err.strip().splitlines()) == 1


def test_experiments_create_and_list_in_every_format(cli_env, run):
    assert run("register")[0] == 0
    name = f"cli-{uuid.uuid4().hex[:10]}"
    status, out, _ = run("experiments", "create", name, "--description", "made by the CLI", "--public",
                         "--permission", f"{USERS_GROUP}=Read")
    assert status == 0 and name in out

    status, out, _ = run("experiments", "list", "--format", "json")
    assert status == 0
    mine = [item for item in json.loads(out) if item["name"] == name]
    assert len(mine) == 1
    assert mine[0]["public"] is True and mine[0]["description"] == "made by the CLI"
    assert {"entity": USERS_GROUP, "level": "Read"} in mine[0]["permissions"]

    status, out, _ = run("experiments", "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0
    assert [row for row in rows if row["name"] == name] == [
        {"id": mine[0]["id"], "name": name, "public": "true", "description": "made by the CLI"}]

    status, out, _ = run("experiments", "list")
    lines = out.splitlines()
    assert status == 0 and lines[0].split() == ["id", "name", "public", "description"]
    line = next(line for line in lines if name in line)
    assert line.index(name) == lines[0].index("name")  # columns are aligned

    status, _, err = run("experiments", "create", name)
    assert status == 1 and "another" in err


def test_drifts_list_with_filters(cli_env, run, api, experiment):
    runs = [
        api.create_drift(experiment, model="m1", job_status="Completed", run_id=str(uuid.uuid4()),
                         created_at="2026-01-01T00:00:00Z", concept_drift={"drift": True, "parameters": {}}),
        api.create_drift(experiment, model="m2", job_status="Failed", run_id=str(uuid.uuid4()),
                         created_at="2026-01-02T00:00:00Z"),
        api.create_drift(experiment, model="m1", job_status="Running", run_id=str(uuid.uuid4()),
                         created_at="2026-01-03T00:00:00Z", tags=["a", "b"]),
    ]
    ids = [created["id"] for created in runs]

    def listed(*options: str) -> list[str]:
        status, out, _ = run("drifts", "list", experiment["name"], "--format", "json", *options)
        assert status == 0
        return [item["id"] for item in json.loads(out)]

    assert listed() == ids
    assert listed("--model", "m1") == [ids[0], ids[2]]
    assert listed("--status", "Failed") == [ids[1]]
    assert listed("--since", "2026-01-02", "--until", "2026-01-03T00:00:00Z") == [ids[1]]
    assert listed("--model", "m1", "--since", "2026-01-02T00:00:00+00:00") == [ids[2]]

    status, out, _ = run("drifts", "list", experiment["id"], "--format", "csv", "--model", "m1")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0
    assert [(row["id"], row["job_status"], row["concept_drift"], row["tags"]) for row in rows] == [
        (ids[0], "Completed", "true", ""), (ids[2], "Running", "", "a,b")]

    status, out, _ = run("drifts", "list", experiment["name"])
    assert status == 0 and len(out.splitlines()) == 4 and out.splitlines()[0].startswith("id")

    # Bad option values are usage errors.
    assert run("drifts", "list", experiment["name"], "--since", "yesterday")[0] == 2
    assert run("drifts", "list", experiment["name"], "--status", "Done")[0] == 2


def test_unknown_experiment_exits_1(cli_env, run, api):
    status, out, err = run("drifts", "list", f"nope-{uuid.uuid4().hex[:8]}")
    assert (status, out) == (1, "")
    assert "experiments list" in err and len(err.strip().splitlines()) == 1


def test_bad_token_exits_1_with_advice(cli_env, run, monkeypatch):
    monkeypatch.setenv("DRIFT_MONITOR_TOKEN", "not-a-token")
    status, out, err = run("experiments", "list")
    assert (status, out) == (1, "")
    assert "DRIFT_MONITOR_TOKEN" in err and len(err.strip().splitlines()) == 1


def test_token_option_overrides_the_environment(cli_env, run, user_token, monkeypatch):
    monkeypatch.setenv("DRIFT_MONITOR_TOKEN", "not-a-token")
    assert run("--token", user_token, "register")[0] == 0


def test_missing_url_is_a_configuration_error(run, monkeypatch):
    monkeypatch.delenv("DRIFT_MONITOR_URL", raising=False)
    status, _, err = run("whoami")
    assert status == 2 and "DRIFT_MONITOR_URL" in err


def test_spool_status_and_sync_after_an_outage(cli_env, run, api, experiment, user_token, spool_dir, db,
                                               monkeypatch):
    status, out, _ = run("spool", "status")
    assert status == 0 and "Pending operations: 0" in out

    offline = Client(url=f"http://127.0.0.1:{free_port()}", token=user_token, spool_dir=spool_dir, retry=NO_RETRY)
    with DriftMonitor(experiment["name"], "model-1", client=offline) as monitor:
        monitor.data(True, {"psi": 0.3})
    assert monitor.spooled

    status, out, _ = run("spool", "status")
    assert status == 0
    assert "Pending operations: 2" in out and "Runs:               1" in out
    assert "Oldest:" in out and str(spool_dir) in out

    # Still offline: the operations stay, exit 1 with advice.
    monkeypatch.setattr(drift_monitor._api, "DEFAULT_RETRY", NO_RETRY)
    status, out, err = run("--url", offline.settings.url, "sync")
    assert status == 1 and "2 still pending" in out and "DRIFT_MONITOR_URL" in err.splitlines()[-1]

    status, out, _ = run("sync")
    assert status == 0 and "Sent 2 operation(s)" in out
    assert db.drifts.count_documents({"_id": monitor.run_id}) == 1
    stored = api.get_drift(experiment, monitor.run_id)
    assert stored["job_status"] == "Completed" and stored["data_drift"]["drift"] is True

    status, out, _ = run("sync")
    assert status == 0 and "Nothing to send" in out
    assert len(api.get_drifts(experiment)) == 1
    assert "Pending operations: 0" in run("spool", "status")[1]


def test_console_script_help():
    script = Path(sys.executable).with_name("drift-monitor")
    command = [str(script)] if script.exists() else [shutil.which("drift-monitor") or "drift-monitor"]
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "drifts" in done.stdout and "sync" in done.stdout
    done = subprocess.run([sys.executable, "-m", "drift_monitor", "spool", "status"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0 and "Pending operations" in done.stdout
