"""Detector benchmark: `detector run` on 1,000,000 rows x 55 features, and Evidently's DataDriftPreset on the same data.

    python benchmarks/detector_run.py [--rows 1000000] [--numeric 50] [--categorical 5] [--repeats 3]
                                      [--no-backend] [--no-evidently] [--evidently-version 0.7.23]
                                      [--output benchmarks/results/detector_run.json] [--time-limit 3600]

One run:

1. generates a reference and a current batch (``--rows`` rows each, ``--numeric`` numeric and
   ``--categorical`` categorical features; 10 % of the numeric features and one categorical feature
   shifted in the current batch) and writes both to Parquet in a temporary directory;
2. unless ``--no-backend``: starts an embedded SecantusDB, the sandbox identity provider and the backend
   (gunicorn, 2 x 8) on 127.0.0.1, registers a user and creates the experiment the runs are reported to
   (with ``--no-backend`` the runs use ``--no-report``: nothing is sent);
3. ``python -m detector fit`` on the reference, once (timed, for information);
4. ``python -m detector run`` on the current batch, ``--repeats`` times with the default tests (KS and
   chi-squared) and as many times with the tests Evidently uses at this size (normalised Wasserstein and
   Jensen-Shannon, set by a run-time configuration file, no refit);
5. Evidently: a virtual environment under ``.cache/benchmarks/evidently-<version>`` (created on first use
   with ``pip install evidently==<version> pyarrow``), then a child process that reads both Parquet files
   and runs ``Report([DataDriftPreset()])``, ``--evidently-repeats`` times. If the environment cannot be
   built or the report fails, the exact error is recorded in the results instead.

Every measured step is its own child process, started from scratch: the wall time includes the Python
start and the imports, and the peak memory is the child's maximum resident set size (``os.wait4``'s
``ru_maxrss``). On Linux that figure starts from the parent's own peak at the time of the fork (the
high-water mark survives ``exec``), so the data are generated in a separate process and this script stays
small; its peak is recorded as ``parent_peak_rss_mib``, the floor below which no child figure can go. The
script runs only one measured process at a time. Results go to a JSON file and a
markdown file next to it (``--output``); a table is printed. Everything started is stopped at the end, also
on Ctrl-C or after ``--time-limit`` seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from packaging.specifiers import SpecifierSet

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from _common import BenchmarkError, TimeLimitReached, arm_time_limit, elapsed_logger, verdict  # noqa: E402

TARGET_SECONDS = 10.0
USERS_GROUP = "urn:example:drift-monitor:users"
SEED = 20261122
#: Evidently 0.7.23 does not declare it, but it cannot run on pandas 3: evidently/legacy/tests/
#: data_integrity_tests.py imports pandas.core.dtypes.common.infer_dtype_from_object, which pandas 3 removed
#: (ImportError at `from evidently import Report`). Its environment gets the last pandas 2.
EVIDENTLY_PANDAS = "<3"
EVIDENTLY_PANDAS_WHY = ("evidently 0.7.23 imports pandas.core.dtypes.common.infer_dtype_from_object, removed in "
                        "pandas 3 (ImportError on `from evidently import Report`), and does not cap pandas")
#: What the Evidently child runs; it prints one JSON line with its own timings.
EVIDENTLY_SCRIPT = textwrap.dedent("""
    import json, sys, time
    started = time.perf_counter()
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    imported = time.perf_counter()
    reference = pd.read_parquet(sys.argv[1])
    current = pd.read_parquet(sys.argv[2])
    loaded = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    computed = time.perf_counter()
    result = snapshot.dict()
    drifted = None
    methods = set()
    columns = []
    for metric in result.get("metrics", []):
        config = metric.get("config") or {}
        kind = str(config.get("type", ""))
        if kind.endswith("DriftedColumnsCount"):
            drifted = int(metric["value"]["count"])
        elif kind.endswith("ValueDrift"):
            methods.add(config.get("method"))
            columns.append({"column": config.get("column"), "value": float(metric["value"]),
                            "threshold": config.get("threshold")})
    print(json.dumps({"import_s": imported - started, "read_s": loaded - imported, "report_s": computed - loaded,
                      "drifted_columns": drifted, "methods": sorted(methods), "columns": columns}))
""")


# --------------------------------------------------------------------------------------------------
# Data

def generate_elsewhere(rows: int, numeric: int, categorical: int, directory: Path, log) -> dict:
    """``generate`` in a child process: the frames never enlarge this process (see the module docstring)."""
    result = subprocess.run([sys.executable, __file__, "--generate-into", str(directory), "--rows", str(rows),
                             "--numeric", str(numeric), "--categorical", str(categorical)],
                            capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise BenchmarkError(f"generating the data failed: {result.stderr[-2000:]}")
    for line in result.stderr.splitlines():
        log(line.split("] ", 1)[-1])
    return json.loads(result.stdout.strip().splitlines()[-1])


def generate(rows: int, numeric: int, categorical: int, directory: Path, log) -> dict:
    """Reference and current Parquet files; returns which features were shifted."""
    rng = np.random.default_rng(SEED)
    shifted_numeric = [f"num_{index:02d}" for index in range(0, numeric, 10)]  # 10 % of them
    shifted_categorical = ["cat_0"] if categorical else []
    for name in ("reference", "current"):
        columns: dict[str, np.ndarray] = {}
        for index in range(numeric):
            feature = f"num_{index:02d}"
            shift = 0.1 if name == "current" and feature in shifted_numeric else 0.0
            kind = index % 4
            if kind == 0:
                values = rng.normal(shift, 1.0, rows)
            elif kind == 1:
                values = rng.lognormal(shift, 0.5, rows)
            elif kind == 2:
                values = rng.uniform(shift, 1 + shift, rows)
            else:
                values = rng.poisson(5 * (1 + shift), rows).astype(float)
            values[rng.random(rows) < 0.01] = np.nan  # 1 % missing
            columns[feature] = values
        for index in range(categorical):
            feature = f"cat_{index}"
            categories = np.array([f"{feature}_v{value:02d}" for value in range(12)])
            weights = 1 / np.arange(1, 13)
            if name == "current" and feature in shifted_categorical:
                weights = weights[::-1].copy()
            columns[feature] = categories[rng.choice(12, size=rows, p=weights / weights.sum())]
        frame = pd.DataFrame(columns)
        path = directory / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        log(f"wrote {path.name}: {rows:,} rows x {frame.shape[1]} columns, {path.stat().st_size / 2**20:.0f} MiB")
        del frame, columns
    return {"numeric": shifted_numeric, "categorical": shifted_categorical}


# --------------------------------------------------------------------------------------------------
# Measured child processes

_current_child: subprocess.Popen | None = None


def measure(command: list[str], env: dict[str, str], timeout_note: str) -> dict:
    """Run ``command``; its wall time, peak RSS (MiB), exit status and output."""
    global _current_child
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    _current_child = process
    output: dict[str, list[str]] = {"stdout": [], "stderr": []}
    readers = [threading.Thread(target=lambda stream=stream, key=key: output[key].extend(stream), daemon=True)
               for key, stream in (("stdout", process.stdout), ("stderr", process.stderr))]
    for reader in readers:
        reader.start()
    # wait4 reaps the child and returns its own resource usage (ru_maxrss in KiB on Linux).
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    _current_child = None
    for reader in readers:
        reader.join(timeout=10)
    return {"wall_s": wall, "peak_rss_mib": usage.ru_maxrss / 1024, "user_s": usage.ru_utime,
            "system_s": usage.ru_stime, "exit_code": process.returncode,
            "stdout": "".join(output["stdout"]), "stderr": "".join(output["stderr"]), "what": timeout_note}


def _stop_child() -> None:
    if _current_child is not None and _current_child.poll() is None:
        _current_child.kill()


def phase_seconds(stderr: str, label: str) -> float | None:
    match = re.search(re.escape(label) + r".*?: done(?: \(\d+/\d+\))? in ([\d.]+) s", stderr)
    return float(match.group(1)) if match else None


def summary(samples: list[dict]) -> dict:
    walls = [sample["wall_s"] for sample in samples]
    return {"n": len(samples), "wall_s_median": round(statistics.median(walls), 3), "wall_s_min": round(min(walls), 3),
            "wall_s_max": round(max(walls), 3),
            "peak_rss_mib_max": round(max(sample["peak_rss_mib"] for sample in samples), 1),
            "cpu_s_median": round(statistics.median(s["user_s"] + s["system_s"] for s in samples), 3)}


# --------------------------------------------------------------------------------------------------
# The detector

def detector_env(base: dict[str, str], backend: dict | None, work: Path) -> dict[str, str]:
    env = {key: value for key, value in base.items() if not key.startswith(("DRIFT_MONITOR_", "DETECTOR_"))}
    env.update(DETECTOR_PROGRESS="log", DETECTOR_LOG_LEVEL="INFO", DRIFT_MONITOR_SPOOL_DIR=str(work / "spool"))
    if backend:
        env.update(DRIFT_MONITOR_URL=backend["url"], DRIFT_MONITOR_TOKEN=backend["token"], DRIFT_MONITOR_STRICT="true")
    return env


def run_detector(args, work: Path, backend: dict | None, log) -> dict:
    env = detector_env(dict(os.environ), backend, work)
    artifacts = work / "artifacts"
    config = work / "detector.yaml"
    config.write_text(json.dumps({"project": "bench", "artifacts": str(artifacts),
                                  "experiment": backend["experiment"] if backend else "bench",
                                  "model": "bench-model", "tags": ["benchmark"]}))
    python = [sys.executable, "-m", "detector"]
    fitted = measure([*python, "fit", "--config", str(config), "--reference", str(work / "reference.parquet")], env,
                     "fit")
    if fitted["exit_code"] != 0:
        raise BenchmarkError(f"detector fit failed ({fitted['exit_code']}): {fitted['stderr'][-2000:]}")
    profile_bytes = (artifacts / "bench" / "profile.json").stat().st_size
    log(f"fit: {fitted['wall_s']:.1f} s, peak {fitted['peak_rss_mib']:.0f} MiB, profile.json "
        f"{profile_bytes / 2**20:.1f} MiB")

    evidently_tests = work / "evidently-tests.yaml"
    evidently_tests.write_text(json.dumps({"project": "bench", "artifacts": str(artifacts),
                                           "tests": {"numeric": "wasserstein", "categorical": "jensenshannon"}}))
    variants = {"default tests (KS, chi-squared)": ["--config", str(config)],
                "Evidently's tests (Wasserstein, Jensen-Shannon)": ["--config", str(evidently_tests)]}
    results = {}
    for label, options in variants.items():
        samples = []
        for repeat in range(args.repeats):
            output = work / f"result-{len(results)}-{repeat}.json"
            command = [*python, "run", *options, "--current", str(work / "current.parquet"), "--output", str(output)]
            if not backend:
                command.append("--no-report")
            sample = measure(command, env, label)
            if sample["exit_code"] != 0:
                raise BenchmarkError(f"detector run failed ({sample['exit_code']}): {sample['stderr'][-2000:]}")
            outcome = json.loads(output.read_text())
            parameters = outcome["data_drift"]["parameters"]
            sample.update(read_s=phase_seconds(sample["stderr"], "reading current data"),
                          test_s=phase_seconds(sample["stderr"], "testing features"),
                          n_drifted=parameters["n_drifted"], n_features=parameters["n_features"],
                          drifted=sorted(name for name, result in parameters["features"].items() if result["drifted"]),
                          run_id=outcome["run_id"], status=outcome["status"], reported=outcome["reported"])
            samples.append(sample)
            log(f"run, {label}, #{repeat + 1}: {sample['wall_s']:.2f} s (read {sample['read_s']} s, tests "
                f"{sample['test_s']} s), peak {sample['peak_rss_mib']:.0f} MiB, {parameters['n_drifted']}/"
                f"{parameters['n_features']} drifted")
        results[label] = {**summary(samples), "read_s_median": statistics.median(s["read_s"] for s in samples),
                          "test_s_median": statistics.median(s["test_s"] for s in samples),
                          "n_drifted": samples[-1]["n_drifted"], "n_features": samples[-1]["n_features"],
                          "drifted": samples[-1]["drifted"], "reported": samples[-1]["reported"]}
    if backend:
        from drift_monitor import Client

        with Client(url=backend["url"], token=backend["token"], spool_dir=work / "spool-check") as client:
            runs = client.get_drifts(client.find_experiment(backend["experiment"]))
        completed = [run for run in runs if run["job_status"] == "Completed"
                     and len(run["data_drift"]["parameters"]["features"]) == args.numeric + args.categorical]
        if len(completed) != 2 * args.repeats:
            raise BenchmarkError(f"the server holds {len(completed)} complete runs, expected {2 * args.repeats}")
        log(f"the server holds all {len(completed)} runs as Completed, with every feature")
    return {"fit": {**summary([fitted]), "profile_json_mib": round(profile_bytes / 2**20, 2)}, "run": results}


# --------------------------------------------------------------------------------------------------
# Evidently

def evidently_environment(version: str, log) -> tuple[Path | None, dict]:
    """The venv's python, or None and why; with how long building it took."""
    venv = REPO_ROOT / ".cache" / "benchmarks" / f"evidently-{version}"
    python = venv / "bin" / "python"
    info: dict = {"venv": str(venv.relative_to(REPO_ROOT)), "pandas_requirement": f"pandas{EVIDENTLY_PANDAS}",
                  "why_pandas": EVIDENTLY_PANDAS_WHY}
    check = [str(python), "-c", "import importlib.metadata as m; print(m.version('evidently'), m.version('pandas'))"]
    if python.exists():
        installed = subprocess.run(check, capture_output=True, text=True).stdout.split()
        if len(installed) == 2 and installed[0] == version and installed[1] in SpecifierSet(EVIDENTLY_PANDAS):
            info.update(created=False, pandas=installed[1])
            return python, info
    started = time.perf_counter()
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    log(f"creating {info['venv']} and installing evidently=={version} (a few minutes)")
    steps = [[sys.executable, "-m", "venv", str(venv)],
             [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"evidently=={version}",
              f"pandas{EVIDENTLY_PANDAS}", "pyarrow"]]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            lines = [line for line in (result.stderr + result.stdout).splitlines()
                     if line.strip() and "is ignored: it is neither a file nor a directory" not in line]
            info["error"] = f"`{' '.join(step[-3:])}` exited {result.returncode}: " + " | ".join(lines[-15:])
            return None, info
    installed = subprocess.run(check, capture_output=True, text=True).stdout.split()
    info.update(created=True, install_s=round(time.perf_counter() - started, 1), pandas=installed[-1])
    return python, info


def run_evidently(args, work: Path, log) -> dict:
    python, info = evidently_environment(args.evidently_version, log)
    info["version"] = args.evidently_version
    if python is None:
        log(f"Evidently could not be installed: {info['error']}")
        return info
    script = work / "evidently_drift.py"
    script.write_text(EVIDENTLY_SCRIPT)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(DO_NOT_TRACK="1", EVIDENTLY_DISABLE_TELEMETRY="1")  # no usage telemetry from the benchmark
    samples = []
    for repeat in range(args.evidently_repeats):
        sample = measure([str(python), str(script), str(work / "reference.parquet"), str(work / "current.parquet")],
                         env, "evidently")
        if sample["exit_code"] != 0:
            lines = [line for line in sample["stderr"].splitlines() if line.strip()]
            info["error"] = (f"the report exited {sample['exit_code']} after {sample['wall_s']:.0f} s "
                             f"(peak {sample['peak_rss_mib']:.0f} MiB): " + " | ".join(lines[-12:]))
            log(f"Evidently failed: {info['error']}")
            return info
        inner = json.loads(sample["stdout"].strip().splitlines()[-1])
        sample.update(inner)
        samples.append(sample)
        log(f"evidently #{repeat + 1}: {sample['wall_s']:.1f} s (import {inner['import_s']:.1f}, read "
            f"{inner['read_s']:.1f}, report {inner['report_s']:.1f}), peak {sample['peak_rss_mib']:.0f} MiB, "
            f"{inner['drifted_columns']} drifted columns, methods {inner['methods']}")
    last = samples[-1]
    drifted = sorted(column["column"] for column in last["columns"]
                     if column["threshold"] is not None and isinstance(column["value"], (int, float))
                     and column["value"] >= column["threshold"])
    info.update(summary(samples), import_s=round(last["import_s"], 2), read_s=round(last["read_s"], 2),
                report_s=round(last["report_s"], 2), drifted_columns=last["drifted_columns"], methods=last["methods"],
                drifted=drifted)
    return info


# --------------------------------------------------------------------------------------------------
# Backend

@contextlib.contextmanager
def local_backend(log):
    """(url, token, experiment) of a backend on 127.0.0.1 with a registered user and one experiment."""
    import requests

    from sandbox.backend import sandbox_app_env, start_backend
    from sandbox.database import EmbeddedMongo
    from sandbox.idp.launcher import start_idp

    with contextlib.ExitStack() as stack:
        server = EmbeddedMongo().start()
        stack.callback(server.cleanup)
        idp = stack.enter_context(start_idp())
        uri = server.uri + "?retryWrites=false"  # see benchmarks/README.md
        url = stack.enter_context(start_backend(sandbox_app_env(uri, f"bench-detector-{uuid.uuid4().hex[:8]}",
                                                                idp.issuer), workers=2, threads=8))
        sub = str(uuid.uuid4())
        token = idp.token(sub, email=f"{sub[:8]}@example.org", entitlements=[USERS_GROUP], expires_in=6 * 3600)
        headers = {"Authorization": f"Bearer {token}"}
        response = requests.post(f"{url}/api/v1/user", headers=headers, timeout=60)
        if response.status_code != 201:
            raise BenchmarkError(f"registration answered {response.status_code}: {response.text[:300]}")
        experiment = f"detector-benchmark-{uuid.uuid4().hex[:6]}"
        response = requests.post(f"{url}/api/v1/experiment", headers=headers, timeout=60,
                                 json={"name": experiment, "description": "benchmarks/detector_run.py",
                                       "public": False, "permissions": []})
        if response.status_code != 201:
            raise BenchmarkError(f"creating the experiment answered {response.status_code}: {response.text[:300]}")
        log(f"backend at {url} (embedded SecantusDB {importlib.metadata.version('SecantusDB')}, gunicorn 2 x 8)")
        yield {"url": url, "token": token, "experiment": experiment}


# --------------------------------------------------------------------------------------------------
# Report

def machine() -> dict:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host_cores": os.cpu_count(),
        "cpu_model": next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name")), platform.processor()),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: importlib.metadata.version(name) for name in
                     ("drift-detector", "numpy", "scipy", "pandas", "pyarrow")},
    }


def markdown(result: dict) -> str:
    detector = result["detector"]
    evidently = result["evidently"]
    lines = [
        "# Detector run benchmark",
        "",
        f"`{result['command']}`, {result['machine']['date']}, {result['machine']['host_cores']} cores "
        f"({result['machine']['cpu_model']}), load average at start {result['machine']['load_average_at_start']}, "
        f"after the detector runs {result['machine'].get('load_average_after_detector')} (the machine is shared: "
        "wall time above CPU time is time spent waiting for a core).",
        "",
        f"Data: {result['rows']:,} rows x {result['numeric']} numeric + {result['categorical']} categorical features "
        f"(1 % missing), reference and current batch in Parquet; shifted in the current batch: "
        f"{', '.join(result['shifted']['numeric'] + result['shifted']['categorical'])}. Reporting: "
        f"{result['reporting']}.",
        "",
        "Each row is a child process started from scratch (Python start and imports included); memory is its peak "
        f"resident set size (this script's own peak, a floor for those figures: {result.get('parent_peak_rss_mib')} "
        "MiB).",
        "",
        "| step | wall s (median) | min–max | peak MiB | CPU s | drifted features | target |",
        "|---|---|---|---|---|---|---|",
        f"| `detector fit` (once, for information) | {detector['fit']['wall_s_median']} | | "
        f"{detector['fit']['peak_rss_mib_max']} | {detector['fit']['cpu_s_median']} | | |",
    ]
    for label, run in detector["run"].items():
        lines.append(f"| `detector run`, {label} | **{run['wall_s_median']}** (read {run['read_s_median']}, tests "
                     f"{run['test_s_median']}) | {run['wall_s_min']}–{run['wall_s_max']} | {run['peak_rss_mib_max']} | "
                     f"{run['cpu_s_median']} | {run['n_drifted']}/{run['n_features']} | "
                     f"≤ {TARGET_SECONDS:g} s: **{verdict(run['wall_s_median'] <= TARGET_SECONDS)}** |")
    if "error" in evidently:
        lines.append(f"| Evidently {evidently['version']} DataDriftPreset | did not run | | | | | |")
    else:
        lines.append(f"| Evidently {evidently['version']} DataDriftPreset ({', '.join(evidently['methods'])}; "
                     f"pandas {evidently.get('pandas')}) | "
                     f"{evidently['wall_s_median']} (read {evidently['read_s']}, report {evidently['report_s']}) | "
                     f"{evidently['wall_s_min']}–{evidently['wall_s_max']} | {evidently['peak_rss_mib_max']} | "
                     f"{evidently['cpu_s_median']} | {evidently['drifted_columns']}/"
                     f"{result['numeric'] + result['categorical']} | |")
    lines.append("")
    if "ratios" in result:
        for label, ratio in result["ratios"].items():
            lines.append(f"- Evidently ÷ `detector run` ({label}): wall time **{ratio['wall']}x**, CPU time "
                         f"{ratio.get('cpu')}x, peak memory **{ratio['memory']}x**.")
        lines.append("")
    same_tests = detector["run"].get("Evidently's tests (Wasserstein, Jensen-Shannon)")
    if same_tests and "drifted" in evidently:
        agree = "the same features" if same_tests["drifted"] == evidently["drifted"] else "different features"
        lines += [f"With the same tests and thresholds both flag {agree}: detector {', '.join(same_tests['drifted'])}; "
                  f"Evidently {', '.join(evidently['drifted'])}. The default tests (KS, chi-squared on a million rows) "
                  f"also flag {', '.join(sorted(set(detector['run']['default tests (KS, chi-squared)']['drifted']) - set(same_tests['drifted'])))} "
                  "(a two-sample test on a million rows also finds shifts too small for a distance threshold).", ""]
    if "error" in evidently:
        lines += [f"Evidently {evidently['version']} could not be measured: {evidently['error']}", ""]
    elif evidently.get("why_pandas"):
        lines += [f"Evidently runs in `{evidently['venv']}` with pandas {evidently.get('pandas')} "
                  f"({evidently['pandas_requirement']}): {evidently['why_pandas']}.", ""]
    lines += [
        f"Fitted profile: profile.json {detector['fit']['profile_json_mib']} MiB.",
        "",
        "Notes: `detector run` reads the current batch and the fitted profile (the KS tests use the stored "
        "10,000-value sample per feature); Evidently has no fitted profile and reads and processes both full "
        "batches on every run. Only ratios from the same run mean something; absolute numbers describe this "
        "machine only (shared: see the load average).",
        "",
    ]
    return "\n".join(lines)


def print_table(result: dict) -> None:
    print()
    print(markdown(result))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--numeric", type=int, default=50)
    parser.add_argument("--categorical", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="detector runs per test variant")
    parser.add_argument("--evidently-repeats", type=int, default=1)
    parser.add_argument("--evidently-version", default="0.7.23")
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--no-backend", action="store_true", help="run with --no-report instead of reporting to a "
                                                                  "local backend")
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks" / "results" / "detector_run.json"))
    parser.add_argument("--time-limit", type=int, default=3600)
    parser.add_argument("--generate-into", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.generate_into:  # the data-generating child of generate_elsewhere
        shifted = generate(args.rows, args.numeric, args.categorical, Path(args.generate_into),
                           lambda message: print(message, file=sys.stderr, flush=True))
        print(json.dumps(shifted))
        return 0
    log = elapsed_logger()
    arm_time_limit(args.time_limit)
    command = "python benchmarks/detector_run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result = {"command": command.strip(), "machine": machine(), "rows": args.rows, "numeric": args.numeric,
              "categorical": args.categorical}
    started = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(_stop_child)
            work = Path(tempfile.mkdtemp(prefix="detector-run-"))
            stack.callback(shutil.rmtree, work, ignore_errors=True)
            result["shifted"] = generate_elsewhere(args.rows, args.numeric, args.categorical, work, log)
            backend = None if args.no_backend else stack.enter_context(local_backend(log))
            result["reporting"] = ("disabled (`detector run --no-report`)" if backend is None else
                                   "to a local backend (gunicorn 2 x 8, embedded SecantusDB) on 127.0.0.1")
            result["detector"] = run_detector(args, work, backend, log)
            # The machine is shared: a high load here means the detector waited for a core.
            result["machine"]["load_average_after_detector"] = [round(value, 2) for value in os.getloadavg()]
            if args.no_evidently:
                result["evidently"] = {"version": args.evidently_version, "error": "skipped (--no-evidently)"}
            else:
                result["evidently"] = run_evidently(args, work, log)
    except TimeLimitReached as error:
        print(f"stopped: {error}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    evidently = result["evidently"]
    if "error" not in evidently:
        result["ratios"] = {label: {"wall": round(evidently["wall_s_median"] / run["wall_s_median"], 1),
                                    "cpu": round(evidently["cpu_s_median"] / run["cpu_s_median"], 1),
                                    "memory": round(evidently["peak_rss_mib_max"] / run["peak_rss_mib_max"], 1)}
                            for label, run in result["detector"]["run"].items()}
    result["parent_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    print_table(result)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown(result))
    log(f"wrote {output} and {output.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
