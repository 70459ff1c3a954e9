"""Running on an interval, and stopping on SIGTERM: cleanly between runs, after the run during one,
reported Failed when a one-shot run is stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import detector.cli as cli
from detector.config import Config
from detector.runner import fit
from detector.schedule import SignalGuard, Terminated, run_every

main_thread_only = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                      reason="signal handlers can only be installed in the main thread")


@pytest.fixture
def fitted(tmp_path, make_frame):
    """(artifacts folder, a current batch) of a fitted project named "loop"."""
    reference = tmp_path / "reference.parquet"
    current = tmp_path / "current.parquet"
    make_frame(1000, seed=1).to_parquet(reference)
    make_frame(500, seed=2).to_parquet(current)
    fit(Config.from_mapping({"project": "loop", "artifacts": str(tmp_path / "artifacts"),
                             "reference": str(reference)}))
    return str(tmp_path / "artifacts"), str(current)


def test_the_interval_loop_runs_until_sigterm_and_exits_0(fitted):
    artifacts, current = fitted
    process = subprocess.Popen(
        [sys.executable, "-m", "detector", "run", "--project", "loop", "--artifacts", artifacts, "--current", current,
         "--no-report", "--output", os.devnull, "--interval", "0.2", "--progress", "log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while sum("loop: Completed" in line for line in lines) < 2:
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=5)
    output = "".join(lines)
    assert "SIGTERM received" in output and output.rstrip().endswith("stopped")
    assert "Traceback" not in output


@main_thread_only
def test_run_every_goes_on_after_a_failed_run_and_stops_after_the_run_a_signal_arrived_in():
    calls, errors = [], []

    def job():
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("no data yet")
        os.kill(os.getpid(), signal.SIGTERM)  # arrives during the second run

    with SignalGuard(graceful=True) as guard:
        run_every(0.05, job, guard, errors.append)
    assert len(calls) == 2 and [str(error) for error in errors] == ["no data yet"]
    assert signal.getsignal(signal.SIGTERM) is not guard._handle  # handlers restored


@main_thread_only
def test_a_second_signal_aborts_the_run_and_a_one_shot_run_aborts_on_the_first():
    with SignalGuard(graceful=True) as guard:
        guard.running = True
        os.kill(os.getpid(), signal.SIGTERM)
        assert guard.stop.is_set()
        with pytest.raises(Terminated, match="stopped by SIGTERM"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    with SignalGuard(graceful=False) as guard:
        guard.running = True
        with pytest.raises(Terminated) as stopped:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert stopped.value.exit_code == 130


@main_thread_only
def test_sigterm_during_a_one_shot_run_reports_it_failed_and_exits_143(fitted, tmp_path, monkeypatch, server,
                                                                        experiment):
    artifacts, current = fitted
    (tmp_path / "stopping.py").write_text(
        "import os, signal, time\n"
        "def detect(reference, current, config):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(5)\n"
        "    return False, {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    started = time.monotonic()
    status = cli.main(["run", "--project", "loop", "--artifacts", artifacts, "--current", current,
                       "--experiment", experiment["name"], "--detector", "stopping:detect"])
    assert status == 143 and time.monotonic() - started < 4
    run = server.get_drifts(experiment)[-1]
    assert run["job_status"] == "Failed" and run["parameters"]["error"] == "Terminated: stopped by SIGTERM"


@main_thread_only
def test_sigterm_during_an_interval_run_lets_it_finish_and_report(fitted, tmp_path, monkeypatch, server,
                                                                  experiment):
    artifacts, current = fitted
    (tmp_path / "stopping_once.py").write_text(
        "import os, signal\n"
        "def detect(reference, current, config):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return True, {'note': 'finished after SIGTERM'}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    status = cli.main(["run", "--project", "loop", "--artifacts", artifacts, "--current", current,
                       "--experiment", experiment["name"], "--detector", "stopping_once:detect", "--interval", "3600"])
    assert status == 0
    (run,) = server.get_drifts(experiment)
    assert run["job_status"] == "Completed" and run["data_drift"]["parameters"] == {"note": "finished after SIGTERM"}
