"""Backend benchmark: ingest throughput and search latency of the API against raw pymongo, in one run.

    python benchmarks/backend_api.py [--runs N] [--docs 100000] [--clients 16] [--mongodb-uri URI]
                                     [--workers 2] [--threads 8] [--output benchmarks/results/backend_api.json]

One run starts (or reuses) one database server, the sandbox identity provider and the backend under
gunicorn, all on 127.0.0.1, and measures on that same server:

(a) ingest: drift runs created and completed per second by `--clients` threads, each with its own
    `requests.Session` (POST …/drift with Running, then PUT …/drift/<id> with Completed), against raw
    pymongo `insert_one` + `update_one` of the same documents into the same collection (same indexes)
    from as many threads. Ratio = API runs/s ÷ raw runs/s; target ≥ 0.5. The two sides alternate over
    `--rounds` rounds so that a drifting machine affects both alike.
(b) search: p50/p95 latency of a filtered, sorted, paginated drift search on an experiment holding
    `--docs` runs (seeded with `insert_many`), against the equivalent raw pymongo work. The API answers
    the page and the total count (`X-Pagination`), so the equivalent raw work is `find().sort().skip()
    .limit()` plus `count_documents()` with the same filter (experiment_id included); the raw find alone
    is reported too. Ratio = API p95 ÷ raw find+count p95; target ≤ 1.5.

Diagnostics in the same run (`--no-diagnose` skips them): raw pymongo sides doing exactly the API's database
operations, one client writing runs on the seeded collection, and with `--profile-dir` a py-spy profile of
the gunicorn workers and the database server. On the embedded database, retryable writes are turned off for
both sides (`--retry-writes`), and every ingest round starts from the same collection: see
`benchmarks/README.md` for why.

The embedded database is much slower than a real MongoDB server, so only the ratios of one run mean
something; absolute numbers are reported for context. The results go to a JSON file and a markdown file
next to it; the CPU time each process used during each phase is recorded to show where time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pymongo
import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from _common import (  # noqa: E402
    SEED_BATCH,
    BenchmarkError,
    TimeLimitReached,
    arm_time_limit,
    elapsed_logger,
    machine_info,
    percentile,
    seed_runs,
    verdict,
)

from sandbox.backend import sandbox_app_env, start_backend  # noqa: E402
from sandbox.database import EmbeddedMongo  # noqa: E402
from sandbox.idp.launcher import start_idp  # noqa: E402

API = "/api/v1"
USERS_GROUP = "urn:example:drift-monitor:users"
MODELS = [f"model-{n}" for n in range(10)]
TAG_CHOICES = [[], ["nightly"], ["prod"], ["prod", "v2"], ["canary", "v3"]]
INGEST_TARGET = 0.5   # API runs/s ÷ raw runs/s, at least
SEARCH_TARGET = 1.5   # API p95 ÷ raw (find + count) p95, at most
SEARCH_MODEL = "model-3"
SEARCH_DAYS = 30      # the search filter keeps runs created in the last SEARCH_DAYS of the 90 seeded
SEARCH_PAGES = [1, 3, 5, 8, 12]
PAGE_SIZE = 50
HTTP_TIMEOUT = 60


# --------------------------------------------------------------------------------------------------
# Documents: what a run says, shared by the API bodies, the raw writes and the seeding.

def utc_now() -> dt.datetime:
    """Now, truncated to milliseconds as BSON keeps it (as the backend does)."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def running_content(rng: random.Random) -> dict:
    """A new run, as the published client reports it (POST)."""
    return {"job_status": "Running", "model": rng.choice(MODELS), "tags": list(rng.choice(TAG_CHOICES)),
            "drift_detected": False, "parameters": {}}


def completed_content(rng: random.Random, running: dict) -> dict:
    """The same run once finished (PUT): KS/PSI statistics and a data-drift result."""
    ks_statistic = round(rng.uniform(0.01, 0.35), 4)
    ks_p_value = round(rng.uniform(0.0001, 0.9), 4)
    psi = round(rng.uniform(0.0, 0.45), 4)
    drift = ks_p_value < 0.05 or psi > 0.25
    return {
        "job_status": "Completed",
        "model": running["model"],
        "tags": running["tags"],
        "drift_detected": drift,
        "parameters": {"ks_statistic": ks_statistic, "ks_p_value": ks_p_value, "psi": psi,
                       "psi_threshold": 0.25, "p_value_threshold": 0.05, "sample_size": rng.choice([500, 1000, 5000])},
        "data_drift": {"drift": drift, "parameters": {
            "method": "ks+psi", "features_drifted": rng.randint(1, 6) if drift else 0, "features": 12,
            "max_psi": psi, "min_ks_p_value": ks_p_value}},
    }


def seed_document(rng: random.Random, experiment_id: str, schema_version: str, now: dt.datetime) -> dict:
    """A stored run as the API leaves it, created some time in the last 90 days."""
    created = now - dt.timedelta(seconds=rng.uniform(0, 90 * 86400))
    created = created.replace(microsecond=created.microsecond // 1000 * 1000)
    running = running_content(rng)
    roll = rng.random()
    if roll < 0.85:
        content = completed_content(rng, running)
        updated = created + dt.timedelta(milliseconds=rng.randint(1000, 600_000))
    elif roll < 0.90:
        content = {**running, "job_status": "Failed"}
        updated = created + dt.timedelta(milliseconds=rng.randint(1000, 600_000))
    else:
        content, updated = running, created
    return {"_id": str(uuid.uuid4()), "experiment_id": experiment_id, "schema_version": schema_version,
            **content, "created_at": created, "updated_at": updated}


def shape(document: dict) -> dict:
    """Field names and value types, one level into the result objects (to compare seeded with API-made)."""
    out = {}
    for key, value in document.items():
        if isinstance(value, dict) and key == "data_drift":
            out[key] = {k: type(v).__name__ for k, v in value.items()}
        else:
            out[key] = type(value).__name__
    return out


# --------------------------------------------------------------------------------------------------
# CPU accounting: who used the two cores during a phase.

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def find_pids(*needles: str) -> list[int]:
    """Processes whose command line contains every needle (used with unique ports: ours only)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(needle in cmdline for needle in needles):
            pids.append(int(entry.name))
    return sorted(pids)


def parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


class CpuMeter:
    """CPU seconds per component between two snapshots, and how busy the machine was."""

    def __init__(self, components: dict[str, Callable[[], list[int]]]):
        self.components = components

    def snapshot(self) -> dict:
        values = {name: sum(filter(None, (process_cpu_seconds(p) for p in pids())))
                  for name, pids in self.components.items()}
        values["benchmark client (this process)"] = process_cpu_seconds(os.getpid()) or 0.0
        values["_machine"] = machine_cpu()
        values["_wall"] = time.monotonic()
        return values

    @staticmethod
    def delta(before: dict, after: dict, runs: int | None = None) -> dict:
        wall = after["_wall"] - before["_wall"]
        busy = after["_machine"][0] - before["_machine"][0]
        total = after["_machine"][1] - before["_machine"][1]
        out = {"wall_seconds": round(wall, 3), "machine_busy_fraction": round(busy / total, 3) if total else None,
               "cpu_seconds": {}}
        for name in before:
            if name.startswith("_"):
                continue
            used = after[name] - before[name]
            entry = {"seconds": round(used, 3), "cores": round(used / wall, 2) if wall else None}
            if runs:
                entry["ms_per_run"] = round(1000 * used / runs, 3)
            out["cpu_seconds"][name] = entry
        ours = sum(entry["seconds"] for entry in out["cpu_seconds"].values())
        others = max(0.0, busy - ours)
        out["cpu_seconds"]["other processes on the machine"] = {
            "seconds": round(others, 3), "cores": round(others / wall, 2) if wall else None,
            **({"ms_per_run": round(1000 * others / runs, 3)} if runs else {})}
        return out


# --------------------------------------------------------------------------------------------------
# (a) ingest

def run_threads(clients: int, total: int, work: Callable[[int, object], None],
                make_state: Callable[[], object], stop: threading.Event) -> tuple[float, list[BaseException]]:
    """`clients` threads share indexes 0…total-1; returns (elapsed seconds, errors)."""
    counter = iter(range(total))
    counter_lock = threading.Lock()
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def loop():
        state = make_state()
        try:
            barrier.wait()
            while not stop.is_set():
                with counter_lock:
                    index = next(counter, None)
                if index is None:
                    return
                work(index, state)
        except BaseException as error:  # noqa: BLE001 — reported by the main thread
            errors.append(error)
            stop.set()
        finally:
            close = getattr(state, "close", None)
            if close:
                close()

    threads = [threading.Thread(target=loop, daemon=True, name=f"client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=60)
    started = time.perf_counter()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=1)
    return time.perf_counter() - started, errors


class ApiIngest:
    def __init__(self, base_url: str, token: str, experiment_id: str, seed: int):
        self.experiment_id = experiment_id
        self.url = f"{base_url}{API}/experiment/{experiment_id}/drift"
        self.token = token
        self.seed = seed
        self.latencies: dict[str, list[float]] = {"create": [], "complete": []}

    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token}"
        return session

    def run(self, index: int, session: requests.Session) -> None:
        rng = random.Random(self.seed * 1_000_003 + index)
        running = running_content(rng)
        started = time.perf_counter()
        response = session.post(self.url, json=running, timeout=HTTP_TIMEOUT)
        posted = time.perf_counter()
        if response.status_code != 201:
            raise BenchmarkError(f"POST run answered {response.status_code}: {response.text[:300]}")
        run_id = response.json()["id"]
        response = session.put(f"{self.url}/{run_id}", json=completed_content(rng, running), timeout=HTTP_TIMEOUT)
        if response.status_code != 200:
            raise BenchmarkError(f"PUT run answered {response.status_code}: {response.text[:300]}")
        self.latencies["create"].append(posted - started)
        self.latencies["complete"].append(time.perf_counter() - posted)


class RawIngest:
    """One run written with pymongo directly, in one of two ways.

    - ``target``: `insert_one` + a guarded `update_one` (the benchmark's denominator);
    - ``api-ops``: exactly the database operations the API sends for POST + PUT (diagnostic): the
      experiment lookup by `_id` before each, `insert_one`, the guarded `update_one`, and a `find_one`
      by `_id` that returns the new document.
    The caller's user id is cached by the backend, so no user lookup is repeated here.
    """

    MODES = ("target", "api-ops")

    def __init__(self, collection, experiments, experiment_id: str, schema_version: str, seed: int,
                 mode: str = "target"):
        assert mode in self.MODES
        self.collection = collection
        self.experiments = experiments
        self.experiment_id = experiment_id
        self.schema_version = schema_version
        self.seed = seed
        self.mode = mode
        self.latencies: dict[str, list[float]] = {"create": [], "complete": []}

    def _experiment(self) -> None:
        if self.mode != "target":  # Experiments.get: by _id, then the deletion marker is checked
            experiment = self.experiments.find_one({"_id": self.experiment_id})
            if experiment is None or "deleting" in experiment:
                raise BenchmarkError("experiment not found")

    def run(self, index: int, _state) -> None:
        rng = random.Random(self.seed * 1_000_003 + index)
        running = running_content(rng)
        started = time.perf_counter()
        self._experiment()
        now = utc_now()
        document = {"_id": str(uuid.uuid4()), "experiment_id": self.experiment_id,
                    "schema_version": self.schema_version, **running, "created_at": now, "updated_at": now}
        self.collection.insert_one(document)
        inserted = time.perf_counter()
        self._experiment()
        completed = completed_content(rng, running)
        guard = {"_id": document["_id"], "experiment_id": self.experiment_id,
                 "job_status": {"$in": ["Running", "Completed"]}}
        update = {"$set": {**completed, "updated_at": utc_now()}, "$unset": {"concept_drift": ""}}
        matched = self.collection.update_one(guard, update).matched_count
        if self.mode == "api-ops" and matched:
            matched = int(self.collection.find_one({"_id": document["_id"]}) is not None)
        if matched != 1:
            raise BenchmarkError(f"raw update matched {matched} documents")
        self.latencies["create"].append(inserted - started)
        self.latencies["complete"].append(time.perf_counter() - inserted)


def measure_at_size(sides: dict[str, object], session_factory, collection, runs: int,
                    log: Callable[[str], None]) -> dict:
    """Ingest latency of one client, one run at a time, on the collection as it is (after seeding).

    Diagnostic: shows how the cost of a run depends on the size of the `drifts` collection.
    """
    size = collection.estimated_document_count()
    samples: dict[str, list[float]] = {name: [] for name in sides}
    session = session_factory()
    try:
        for index in range(runs):
            for name, side in sides.items():
                started = time.perf_counter()
                side.run(2 * 10**9 + index, session if name == "api" else None)
                samples[name].append(time.perf_counter() - started)
    finally:
        session.close()
    summary = {name: latency_summary(values) for name, values in samples.items()}
    log("one client on " + str(size) + " runs: " + ", ".join(
        f"{name} {values['p50_ms']:.0f} ms" for name, values in summary.items()) + " per run (p50)")
    return {"collection_size": size, "runs_per_side": runs, "latency_per_run": summary}


def latency_summary(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)
    return {"n": len(values), "p50_ms": round(1000 * percentile(ordered, 50), 2),
            "p95_ms": round(1000 * percentile(ordered, 95), 2), "mean_ms": round(1000 * statistics.fmean(values), 2),
            "min_ms": round(1000 * ordered[0], 2), "max_ms": round(1000 * ordered[-1], 2)}





SIDE_LABELS = {
    "raw": "raw insert_one + update_one",
    "api": "API (POST + PUT)",
    "raw api-ops": "raw, the API's database operations (diagnostic)",
}


def reset_ingest(collection, sides: dict[str, object]) -> None:
    """Remove the runs the ingest sides wrote, so every round starts on the same collection size.

    This matters on the embedded database, where some writes cost time in proportion to the
    collection's size (see the README's notes): without it, later rounds would be slower.
    """
    collection.delete_many({"experiment_id": {"$in": sorted({side.experiment_id for side in sides.values()})}})


def measure_ingest(args, sides: dict[str, object], session_factory, meter: CpuMeter, stop: threading.Event,
                   collection, log: Callable[[str], None]) -> dict:
    """Warm up every side, then run `raw`, `api` and the diagnostic sides in turn, round after round.

    Each round starts from the same collection: the runs of earlier rounds are deleted first.
    """
    warmup = max(2 * args.clients, args.runs // 20)

    def one(name, side, runs):
        side.seed += 7919
        state = session_factory if name == "api" else (lambda: None)
        reset_ingest(collection, sides)
        size = collection.estimated_document_count()
        before = meter.snapshot()
        elapsed, errors = run_threads(args.clients, runs, side.run, state, stop)
        after = meter.snapshot()
        if errors:
            raise BenchmarkError(f"{name} ingest failed: {errors[0]!r}") from errors[0]
        return elapsed, size, CpuMeter.delta(before, after, runs)

    log(f"ingest: warm-up {warmup} runs per side")
    for name, side in sides.items():
        one(name, side, warmup)
        for values in side.latencies.values():
            values.clear()

    rounds = []
    main = [name for name in ("raw", "api") if name in sides]
    diagnostic = [name for name in sides if name not in main]
    # Every round runs every side (the measured pair first, side by side), so all see the same machine.
    schedule = [(number, name) for number in range(1, args.rounds + 1) for name in main + diagnostic]
    for number, name in schedule:
        elapsed, size, cpu = one(name, sides[name], args.runs)
        rate = args.runs / elapsed
        log(f"ingest round {number} {name}: {args.runs} runs in {elapsed:.2f} s = {rate:.1f} runs/s "
            f"(collection held {size} runs)")
        rounds.append({"round": number, "side": name, "runs": args.runs, "collection_size_before": size,
                       "seconds": round(elapsed, 3), "runs_per_second": round(rate, 1), "cpu": cpu})

    def side_rate(name):
        mine = [r for r in rounds if r["side"] == name]
        return sum(r["runs"] for r in mine) / sum(r["seconds"] for r in mine)

    rates = {name: round(side_rate(name), 1) for name in sides}
    ratio = side_rate("api") / side_rate("raw")
    latency = {}
    for name, side in sides.items():
        for operation, values in side.latencies.items():
            latency[f"{name} {operation}"] = latency_summary(values)
    return {
        "clients": args.clients, "runs_per_round": args.runs, "rounds": args.rounds, "warmup_runs": warmup,
        "api_runs_per_second": rates["api"], "raw_runs_per_second": rates["raw"],
        "runs_per_second": rates, "ratio": round(ratio, 3), "target": f">= {INGEST_TARGET}",
        "pass": ratio >= INGEST_TARGET,
        "diagnostic_ratios": {f"api / {name}": round(side_rate("api") / side_rate(name), 3) for name in diagnostic},
        "latency": latency, "per_round": rounds,
    }


def profile_ingest(args, api: ApiIngest, meter: CpuMeter, stop: threading.Event, pids: dict[str, list[int]],
                   collection, log: Callable[[str], None]) -> dict:
    """One extra API ingest round under py-spy (not counted in the ratio: sampling costs CPU)."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        raise BenchmarkError(f"--profile-dir needs py-spy in the venv: {sys.executable} -m pip install py-spy")
    directory = Path(args.profile_dir)
    directory.mkdir(parents=True, exist_ok=True)
    recorders = []
    for component, component_pids in pids.items():
        for pid in component_pids:
            output = directory / f"{component}-{pid}.txt"
            recorders.append((component, pid, output, subprocess.Popen(
                [str(py_spy), "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--nonblocking",
                 "--output", str(output)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    reset_ingest(collection, {"api": api})
    time.sleep(1.5)  # let py-spy attach
    api.seed += 7919
    before = meter.snapshot()
    runs = min(args.runs, 300)
    elapsed, errors = run_threads(args.clients, runs, api.run, api.session, stop)
    after = meter.snapshot()
    for _component, _pid, _output, recorder in recorders:
        recorder.send_signal(signal.SIGINT)
    for component, pid, output, recorder in recorders:
        try:
            _, stderr = recorder.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            _, stderr = recorder.communicate()
        if recorder.returncode not in (0, -signal.SIGINT) and not output.exists():
            log(f"py-spy on {component} {pid} failed: {stderr.decode(errors='replace')[-500:]}")
    if errors:
        raise BenchmarkError(f"profiled ingest failed: {errors[0]!r}") from errors[0]
    rate = runs / elapsed
    log(f"profiled API ingest: {rate:.1f} runs/s (py-spy attached; not part of the ratio)")
    summaries = {}
    for component, pid, output, _ in recorders:
        if output.exists():
            summaries[f"{component}-{pid}"] = summarise_profile(output)
    (directory / "summary.json").write_text(json.dumps(summaries, indent=2))
    return {"runs_per_second_under_py_spy": round(rate, 1), "runs": runs, "cpu": CpuMeter.delta(before, after, runs),
            "profiles": summaries}


# Frames worth showing in the report's inclusive column: the backend's data layer and the database's commands.
PROFILE_FOCUS = ("(drift_backend/repositories", "(drift_backend/permissions", "(drift_backend/extensions/auth",
                 "Collection.", "(secantus/commands", "(secantus/storage", "(secantus/query")


def summarise_profile(path: Path, top: int = 60) -> dict:
    """Top functions of a py-spy raw (collapsed) profile: inclusive and self share of the busy samples."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    idle_markers = ("wait (threading.py", "select (selectors.py", "_worker (concurrent", "accept (",
                    "poll (selectors.py", "sleep (", "run_for_one", "wait_for_newconns", "select (",
                    "PeriodicExecutor._run (")
    busy_total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [frame.split(" (")[0] + " (" + frame.split(" (", 1)[1].split(":")[0] + ")" if " (" in frame else frame
                  for frame in stack.split(";")]
        total += samples
        if any(marker in stack.split(";")[-1] for marker in idle_markers):
            continue
        busy_total += samples
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    def share(counter):
        return [{"function": name, "percent_of_busy": round(100 * value / busy_total, 1)}
                for name, value in counter.most_common(top)] if busy_total else []
    return {"samples": total, "busy_samples": busy_total, "inclusive": share(inclusive), "self": share(own)}


# --------------------------------------------------------------------------------------------------
# (b) search

def plan_summary(explain: dict) -> dict:
    """Stages and indexes of the winning plan, and the execution counts when the server gives them."""
    stages, indexes = [], []

    def walk(node):
        if isinstance(node, dict):
            if "stage" in node:
                stages.append(node["stage"])
            if "indexName" in node:
                indexes.append(node["indexName"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    planner = explain.get("queryPlanner", {})
    walk(planner.get("winningPlan", {}))
    stats = explain.get("executionStats", {})
    return {"stages": stages, "indexes": indexes,
            **{key: stats[key] for key in ("nReturned", "totalKeysExamined", "totalDocsExamined",
                                          "executionTimeMillis") if key in stats}}


def measure_search(args, base_url: str, token: str, collection, experiment_id: str, meter: CpuMeter,
                   log: Callable[[str], None]) -> dict:
    since = utc_now() - dt.timedelta(days=SEARCH_DAYS)
    api_filter = {"job_status": "Completed", "model": SEARCH_MODEL, "created_at": {"$gte": iso(since)}}
    raw_filter = {"job_status": "Completed", "model": SEARCH_MODEL, "created_at": {"$gte": since},
                  "experiment_id": experiment_id}
    # The API sorts by the requested field, then `_id` in the same direction (stable pages).
    raw_sort = [("created_at", pymongo.DESCENDING), ("_id", pymongo.DESCENDING)]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    url = f"{base_url}{API}/experiment/{experiment_id}/drift/search"

    def api_call(page):
        response = session.post(url, params={"sort_by": "created_at", "order_by": "desc", "page": page,
                                             "page_size": PAGE_SIZE}, json=api_filter, timeout=HTTP_TIMEOUT)
        if response.status_code != 200:
            raise BenchmarkError(f"search answered {response.status_code}: {response.text[:300]}")
        total = json.loads(response.headers["X-Pagination"])["total"]
        return [run["id"] for run in response.json()], total

    def raw_find(page):
        cursor = collection.find(raw_filter).sort(raw_sort).skip((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        return [document["_id"] for document in cursor]

    def raw_find_count(page):
        return raw_find(page), collection.count_documents(raw_filter)

    variants = {"api": api_call, "raw find": raw_find, "raw find+count": raw_find_count}
    matching = collection.count_documents(raw_filter)
    # Small debug runs (--docs 5000) have fewer matches: keep the pages that exist.
    pages = [page for page in SEARCH_PAGES if (page - 1) * PAGE_SIZE < matching]
    if not pages:
        raise BenchmarkError("no run matches the search filter: seed more (--docs)")

    # Correctness first: the API page and total equal the raw ones.
    for page in pages:
        ids, total = api_call(page)
        raw_ids, raw_total = raw_find_count(page)
        if ids != raw_ids or total != raw_total:
            raise BenchmarkError(f"page {page}: API and raw pymongo disagree (total {total} vs {raw_total})")

    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    before = None
    for iteration in range(args.search_warmup + args.search_reps):
        if iteration == args.search_warmup:
            before = meter.snapshot()
        page = pages[iteration % len(pages)]
        # Rotate the order so no variant always runs first (or last) on a page the server has just read.
        rotated = order[iteration % len(order):] + order[:iteration % len(order)]
        for name in rotated:
            started = time.perf_counter()
            variants[name](page)
            elapsed = time.perf_counter() - started
            if iteration >= args.search_warmup:
                samples[name].append(elapsed)
        if (iteration + 1) % 10 == 0:
            log(f"search: {iteration + 1}/{args.search_warmup + args.search_reps} iterations")
    after = meter.snapshot()
    session.close()

    summary = {name: latency_summary(values) for name, values in samples.items()}
    ratio = summary["api"]["p95_ms"] / summary["raw find+count"]["p95_ms"]

    explains = {}
    for name, sort in (("find (as the API sorts: created_at, _id)", raw_sort),
                       ("find sorted by created_at only", [("created_at", pymongo.DESCENDING)])):
        cursor = collection.find(raw_filter).sort(sort).skip(2 * PAGE_SIZE).limit(PAGE_SIZE)
        with contextlib.suppress(pymongo.errors.PyMongoError):
            explains[name] = plan_summary(cursor.explain())
    # How long the count alone takes (for the discussion of where the API time goes).
    count_times = []
    for _ in range(10):
        started = time.perf_counter()
        collection.count_documents(raw_filter)
        count_times.append(time.perf_counter() - started)

    return {
        "docs_in_experiment": args.docs, "matching_filter": matching,
        "filter": api_filter, "sort": "created_at desc (then _id desc)", "pages": pages,
        "page_size": PAGE_SIZE, "warmup_iterations": args.search_warmup, "measured_iterations": args.search_reps,
        "latency": summary, "raw_count_only": latency_summary(count_times),
        "ratio_p95_vs_raw_find_count": round(ratio, 3),
        "ratio_p95_vs_raw_find_only": round(summary["api"]["p95_ms"] / summary["raw find"]["p95_ms"], 3),
        "ratio_p50_vs_raw_find_count": round(summary["api"]["p50_ms"] / summary["raw find+count"]["p50_ms"], 3),
        "target": f"p95 <= {SEARCH_TARGET} x raw find+count", "pass": ratio <= SEARCH_TARGET,
        "plans": explains, "cpu": CpuMeter.delta(before, after),
    }


# --------------------------------------------------------------------------------------------------
# Set-up and reporting

@contextlib.contextmanager
def database(uri: str | None, log) -> Iterator[tuple[str, str, Callable[[], list[int]]]]:
    """Yield (URI, description, pids of the server when it is ours)."""
    if uri:
        yield uri, "external server (--mongodb-uri / MONGODB_URI)", lambda: []
        return
    server = EmbeddedMongo().start()
    try:
        version = importlib.metadata.version("SecantusDB")
        log(f"embedded SecantusDB {version} at {server.uri}")
        yield server.uri, f"embedded SecantusDB {version}", lambda: find_pids("secantusd", f"--port {server.port} ")
    finally:
        server.cleanup()


def with_uri_option(uri: str, option: str) -> str:
    base, _, fragment = uri.partition("#")
    return base + ("&" if "?" in base else ("?" if base.count("/") >= 3 else "/?")) + option


def print_table(result: dict) -> None:
    ingest, search = result["ingest"], result["search"]
    print()
    print(f"(a) ingest, {ingest['clients']} clients, {ingest['rounds']} x {ingest['runs_per_round']} runs per side")
    print(f"    {'':68}{'runs/s':>10}")
    for name, rate in ingest["runs_per_second"].items():
        print(f"    {SIDE_LABELS[name]:68}{rate:>10.1f}")
    print(f"    ratio API/raw = {ingest['ratio']:.3f}   target {ingest['target']}   {verdict(ingest['pass'])}")
    for name, ratio in ingest["diagnostic_ratios"].items():
        print(f"    (diagnostic: {name} = {ratio:.3f})")
    print()
    print(f"(b) search on {search['docs_in_experiment']} runs ({search['matching_filter']} match), "
          f"{search['measured_iterations']} measured after {search['warmup_iterations']} warm-up")
    print(f"    {'':20}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for name, values in search["latency"].items():
        print(f"    {name:20}{values['p50_ms']:>10.1f}{values['p95_ms']:>10.1f}{values['mean_ms']:>10.1f}")
    print(f"    ratio API p95 / raw find+count p95 = {search['ratio_p95_vs_raw_find_count']:.3f}   "
          f"target <= {SEARCH_TARGET}   {verdict(search['pass'])}")
    print(f"    (API p95 / raw find-only p95 = {search['ratio_p95_vs_raw_find_only']:.3f}, for information)")
    print()


def cpu_table(cpu: dict, per_run: bool) -> list[str]:
    cores = os.cpu_count() or 1
    header = "| process | CPU s | cores busy |" + (" CPU ms per run |" if per_run else "")
    lines = [header, "|---|---:|---:|" + ("---:|" if per_run else "")]
    for name, entry in cpu["cpu_seconds"].items():
        line = f"| {name} | {entry['seconds']:.2f} | {entry['cores']:.2f} |"
        if per_run:
            line += f" {entry.get('ms_per_run', 0):.2f} |"
        lines.append(line)
    lines.append(f"| whole machine | | {cpu['machine_busy_fraction'] * cores:.2f} of {cores} "
                 f"({100 * cpu['machine_busy_fraction']:.0f} % busy) |" + (" |" if per_run else ""))
    return lines


def markdown(result: dict) -> str:
    info, ingest, search = result["machine"], result["ingest"], result["search"]
    lines = [
        "# Backend API benchmark",
        "",
        f"Measured {info['date']} with `{result['command']}`.",
        "",
        "Only the ratios mean something: the embedded database is far slower than a real MongoDB server, "
        "so absolute numbers describe this machine and this database only.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| cores | {info['host_cores']} ({info['cpu_model']}) |",
        f"| load average at start | {', '.join(map(str, info['load_average_at_start']))} |",
        f"| python | {info['python']} ({info['platform']}) |",
        f"| database | {info['database']} |",
        f"| pymongo | {info['pymongo']} |",
        f"| gunicorn | {info['gunicorn']}, {info['gunicorn_workers']} workers x {info['gunicorn_threads']} threads "
        f"({info['gunicorn_worker_class']}) |",
        f"| retryable writes (backend and raw client) | {info['retryable_writes']} |",
        "",
        "Everything (database server, identity provider, gunicorn, the benchmark's clients) ran on this machine "
        "and talked over 127.0.0.1 only.",
        "",
        "## Results",
        "",
        "| measure | API | raw pymongo | ratio | target | verdict |",
        "|---|---:|---:|---:|---|---|",
        f"| (a) ingest, runs/s, {ingest['clients']} clients | {ingest['api_runs_per_second']:.1f} | "
        f"{ingest['raw_runs_per_second']:.1f} | {ingest['ratio']:.3f} | API/raw {ingest['target']} | "
        f"**{verdict(ingest['pass'])}** |",
        f"| (b) search p95, ms (raw = find + count) | {search['latency']['api']['p95_ms']:.1f} | "
        f"{search['latency']['raw find+count']['p95_ms']:.1f} | {search['ratio_p95_vs_raw_find_count']:.3f} | "
        f"API/raw <= {SEARCH_TARGET} | **{verdict(search['pass'])}** |",
        "",
        "### (a) Ingest",
        "",
        f"{ingest['clients']} client threads, each with its own connection (`requests.Session` for the API; one "
        f"shared `MongoClient` pool for raw). One run = POST with `Running` + PUT with `Completed` (API), or "
        f"`insert_one` + `update_one` of the same document with the same guard filter (raw), into the same "
        f"`drifts` collection with the backend's indexes. {ingest['warmup_runs']} warm-up runs per side, then "
        f"{ingest['rounds']} alternating rounds of {ingest['runs_per_round']} runs per side; runs/s = all runs ÷ "
        f"all time of that side. Every round starts from the same collection (the ingest runs of earlier rounds "
        f"are deleted first), because on the embedded database some operations cost time in proportion to the collection "
        f"size (see `benchmarks/README.md`).",
    ]
    if ingest["diagnostic_ratios"]:
        lines += [
            "",
            "A diagnostic side runs in every round after the measured pair (not part of the target ratio): raw "
            "pymongo doing exactly the database operations the API sends for one run (experiment lookup by `_id` "
            "before each request, `insert_one`, the guarded `update_one`, and a `find_one` that returns the new "
            "document).",
        ]
    lines += [
        "",
        "| side | runs/s |",
        "|---|---:|",
    ]
    lines += [f"| {SIDE_LABELS[name]} | {rate:.1f} |" for name, rate in ingest["runs_per_second"].items()]
    for name, ratio in ingest["diagnostic_ratios"].items():
        lines.append(f"| ratio {name} | {ratio:.3f} |")
    lines += [
        "",
        "| round | side | runs in the collection before | runs | seconds | runs/s |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for entry in ingest["per_round"]:
        lines.append(f"| {entry['round']} | {entry['side']} | {entry['collection_size_before']} | {entry['runs']} | "
                     f"{entry['seconds']:.2f} | {entry['runs_per_second']:.1f} |")
    lines += ["", "Latency of the two halves of a run under that load (all measured rounds; create = POST or "
              "insert, complete = PUT or update):", "",
              "| side, half | n | p50 ms | p95 ms | mean ms |", "|---|---:|---:|---:|---:|"]
    for name, values in ingest["latency"].items():
        lines.append(f"| {name} | {values['n']} | {values['p50_ms']:.1f} | {values['p95_ms']:.1f} | "
                     f"{values['mean_ms']:.1f} |")
    for side in ingest["runs_per_second"]:
        first = next(r for r in ingest["per_round"] if r["side"] == side)
        lines += ["", f"CPU used during round 1, side `{side}` ({first['cpu']['wall_seconds']:.1f} s wall):", ""]
        lines += cpu_table(first["cpu"], per_run=True)
    lines += [
        "",
        "### (b) Search",
        "",
        f"Experiment with {search['docs_in_experiment']} runs seeded with `insert_many` (shaped like the API "
        f"stores them, created over 90 days); {search['matching_filter']} match the filter "
        f"`{json.dumps(search['filter'])}`, sorted by {search['sort']}, page_size {search['page_size']}, pages "
        f"cycling over {search['pages']}. {search['warmup_iterations']} warm-up then "
        f"{search['measured_iterations']} measured iterations, sequential, one request at a time; each iteration "
        "runs the API call, the raw find and the raw find+count on the same page in rotating order. Before "
        "measuring, every page's ids and total from the API were checked equal to raw pymongo's.",
        "",
        "| variant | n | p50 ms | p95 ms | mean ms | min ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, values in search["latency"].items():
        lines.append(f"| {name} | {values['n']} | {values['p50_ms']:.1f} | {values['p95_ms']:.1f} | "
                     f"{values['mean_ms']:.1f} | {values['min_ms']:.1f} | {values['max_ms']:.1f} |")
    count = search["raw_count_only"]
    lines += [
        f"| raw count_documents alone | {count['n']} | {count['p50_ms']:.1f} | {count['p95_ms']:.1f} | "
        f"{count['mean_ms']:.1f} | {count['min_ms']:.1f} | {count['max_ms']:.1f} |",
        "",
        f"Ratio of p95, API ÷ raw find+count (the equivalent work, as the API also counts): "
        f"**{search['ratio_p95_vs_raw_find_count']:.3f}** (target ≤ {SEARCH_TARGET}: "
        f"{verdict(search['pass'])}). For information, API ÷ raw find only: "
        f"{search['ratio_p95_vs_raw_find_only']:.3f}; p50 API ÷ raw find+count: "
        f"{search['ratio_p50_vs_raw_find_count']:.3f}.",
        "",
        "Query plans of the raw find (`explain`):",
        "",
    ]
    for name, plan in search["plans"].items():
        lines.append(f"- {name}: stages {' → '.join(plan['stages']) or '?'}; indexes "
                     f"{', '.join(plan['indexes']) or 'none'}"
                     + "".join(f"; {key} {plan[key]}" for key in ("nReturned", "totalKeysExamined",
                                                                   "totalDocsExamined") if key in plan))
    lines += ["", f"CPU used during the measured search iterations ({search['cpu']['wall_seconds']:.1f} s wall):",
              ""]
    lines += cpu_table(search["cpu"], per_run=False)
    if result.get("ingest_at_size"):
        at_size = result["ingest_at_size"]
        lines += ["", "## Diagnostic: one client, one run at a time, on the seeded collection", "",
                  f"After the search measurements, with {at_size['collection_size']} runs in the `drifts` collection "
                  f"(all experiments), {at_size['runs_per_side']} runs per side written sequentially:", "",
                  "| side | p50 ms per run | p95 ms | mean ms |", "|---|---:|---:|---:|"]
        for name, values in at_size["latency_per_run"].items():
            lines.append(f"| {SIDE_LABELS[name]} | {values['p50_ms']:.1f} | {values['p95_ms']:.1f} | "
                         f"{values['mean_ms']:.1f} |")
    if result.get("profile"):
        profile = result["profile"]
        lines += ["", "## Profile (py-spy, extra API ingest round, not part of the ratio)", "",
                  f"{profile['runs']} runs from an empty start; throughput with py-spy attached: "
                  f"{profile['runs_per_second_under_py_spy']:.1f} runs/s. "
                  "Share of busy (non-idle) samples:", ""]
        for name, summary in profile["profiles"].items():
            inclusive = [row for row in summary["inclusive"] if any(part in row["function"] for part in PROFILE_FOCUS)]
            lines += [f"**{name}** ({summary['busy_samples']} busy of {summary['samples']} samples)", "",
                      "| data layer / database, inclusive | % | top self | % |", "|---|---:|---|---:|"]
            for index in range(12):
                left = inclusive[index] if index < len(inclusive) else None
                right = summary["self"][index] if index < len(summary["self"]) else None
                lines.append(
                    (f"| `{left['function']}` | {left['percent_of_busy']} |" if left else "| | |")
                    + (f" `{right['function']}` | {right['percent_of_busy']} |" if right else " | |"))
            lines.append("")
    lines.append("")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000, help="drift runs per side per ingest round (default 1000)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating ingest rounds per side (default 2)")
    parser.add_argument("--docs", type=int, default=100_000, help="runs seeded for the search (default 100000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent ingest clients (default 16)")
    parser.add_argument("--search-reps", type=int, default=50, help="measured search iterations (default 50)")
    parser.add_argument("--search-warmup", type=int, default=5, help="search warm-up iterations (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    parser.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_URI"),
                        help="use this server instead of an embedded one (default: $MONGODB_URI)")
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks/results/backend_api.json"),
                        help="JSON result file; the markdown report goes next to it (.md)")
    parser.add_argument("--retry-writes", choices=["auto", "on", "off"], default="auto",
                        help="retryable writes for the backend and the raw client alike; auto (default) = off on "
                             "the embedded database, whose per-write cost grows with the retryable writes of the "
                             "last 30 minutes, and the driver's default (on) on --mongodb-uri")
    parser.add_argument("--no-diagnose", dest="diagnose", action="store_false",
                        help="skip the diagnostic ingest sides (raw pymongo doing exactly the API's operations)")
    parser.add_argument("--size-runs", type=int, default=10,
                        help="diagnostic: runs per side written by one client after seeding (default 10)")
    parser.add_argument("--profile-dir", help="also run one API ingest round under py-spy and keep the profiles here")
    parser.add_argument("--time-limit", type=int, default=3600, help="abort after this many seconds (default 3600)")
    parser.add_argument("--keep-logs", help="directory for the backend's log (default: a temporary file)")
    args = parser.parse_args(argv)
    if min(args.runs, args.rounds, args.docs, args.clients, args.search_reps, args.workers, args.threads) < 1:
        parser.error("counts must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    log = elapsed_logger()
    arm_time_limit(args.time_limit)
    stop = threading.Event()
    database_name = f"bench-{uuid.uuid4().hex[:12]}"
    command = "python benchmarks/backend_api.py " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        with contextlib.ExitStack() as stack:
            uri, db_description, db_pids = stack.enter_context(database(args.mongodb_uri, log))
            if args.retry_writes == "auto":
                args.retry_writes = "on" if args.mongodb_uri else "off"
            if args.retry_writes == "off":
                # Both the backend (through APP_DATABASE_URI) and the raw client: see --retry-writes.
                uri = with_uri_option(uri, "retryWrites=false")
            mongo = stack.enter_context(pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000,
                                                            appname="backend-benchmark"))
            stack.callback(lambda: mongo.drop_database(database_name))
            info = {**machine_info(mongo, db_description), "gunicorn_workers": args.workers,
                    "gunicorn_threads": args.threads, "gunicorn_worker_class": "gthread",
                    "retryable_writes": args.retry_writes}
            idp = stack.enter_context(start_idp())
            log(f"sandbox identity provider at {idp.issuer}")
            app_env = sandbox_app_env(uri, database_name, idp.issuer)
            log_path = None
            if args.keep_logs:
                Path(args.keep_logs).mkdir(parents=True, exist_ok=True)
                log_path = Path(args.keep_logs) / "backend.log"
            base_url = stack.enter_context(start_backend(app_env, workers=args.workers, threads=args.threads,
                                                         log_path=log_path))
            port = base_url.rsplit(":", 1)[1]
            log(f"backend at {base_url} ({args.workers} workers x {args.threads} threads)")

            def gunicorn_pids() -> list[int]:
                return find_pids("gunicorn", f"127.0.0.1:{port}")

            def worker_pids() -> list[int]:
                pids = gunicorn_pids()
                return [pid for pid in pids if parent_pid(pid) in pids]

            meter = CpuMeter({"database server": db_pids, "gunicorn (master + workers)": gunicorn_pids})

            # A user, and three experiments: API ingest, raw ingest (same collection), search.
            sub = str(uuid.uuid4())
            token = idp.token(sub, email=f"{sub[:8]}@example.org", entitlements=[USERS_GROUP], expires_in=6 * 3600)
            headers = {"Authorization": f"Bearer {token}"}
            response = requests.post(f"{base_url}{API}/user", headers=headers, timeout=HTTP_TIMEOUT)
            if response.status_code != 201:
                raise BenchmarkError(f"registration answered {response.status_code}: {response.text[:300]}")
            experiments = {}
            purposes = ["ingest-api", "ingest-raw", "search"]
            if args.diagnose:
                purposes += [f"ingest-raw-{mode}" for mode in RawIngest.MODES[1:]]
            for purpose in purposes:
                response = requests.post(f"{base_url}{API}/experiment", headers=headers, timeout=HTTP_TIMEOUT,
                                         json={"name": f"bench-{purpose}-{uuid.uuid4().hex[:6]}",
                                               "description": "backend benchmark"})
                if response.status_code != 201:
                    raise BenchmarkError(f"experiment creation answered {response.status_code}: {response.text}")
                experiments[purpose] = response.json()["id"]
            db = mongo[database_name]
            deadline = time.monotonic() + 30
            while "experiment_model_time" not in db.drifts.index_information():
                if time.monotonic() > deadline:
                    raise BenchmarkError("the backend did not create the drift indexes")
                time.sleep(0.2)

            # The stored shape of a run, from the API itself (schema version included).
            probe = requests.post(f"{base_url}{API}/experiment/{experiments['ingest-api']}/drift", headers=headers,
                                  json=running_content(random.Random(1)), timeout=HTTP_TIMEOUT)
            if probe.status_code != 201:
                raise BenchmarkError(f"probe run answered {probe.status_code}: {probe.text[:300]}")
            schema_version = probe.json()["schema_version"]

            api = ApiIngest(base_url, token, experiments["ingest-api"], seed=1)
            sides = {"raw": RawIngest(db.drifts, db.experiments, experiments["ingest-raw"], schema_version, seed=2),
                     "api": api}
            if args.diagnose:
                for seed, mode in enumerate(RawIngest.MODES[1:], start=3):
                    sides[f"raw {mode}"] = RawIngest(db.drifts, db.experiments, experiments[f"ingest-raw-{mode}"],
                                                     schema_version, seed=seed, mode=mode)
            ingest = measure_ingest(args, sides, api.session, meter, stop, db.drifts, log)

            # Seeded documents must look exactly like API-made ones.
            reset_ingest(db.drifts, sides)
            with api.session() as session:
                api.run(10**9, session)
            sides["raw"].run(10**9, None)
            api_made = db.drifts.find_one({"experiment_id": experiments["ingest-api"], "job_status": "Completed"})
            raw_made = db.drifts.find_one({"experiment_id": experiments["ingest-raw"], "job_status": "Completed"})
            seeded = seed_document(random.Random(3), experiments["search"], schema_version, utc_now())
            while seeded["job_status"] != "Completed":
                seeded = seed_document(random.Random(random.random()), experiments["search"], schema_version,
                                       utc_now())
            shapes = {"api": shape(api_made), "raw": shape(raw_made), "seeded": shape(seeded)}
            if not shapes["api"] == shapes["raw"] == shapes["seeded"]:
                raise BenchmarkError(f"document shapes differ: {json.dumps(shapes, indent=1)}")

            profile = None
            if args.profile_dir:
                profile = profile_ingest(args, api, meter, stop,
                                         {"worker": worker_pids(), "database": db_pids()}, db.drifts, log)

            log(f"seeding {args.docs} runs into the search experiment")
            seed_seconds = seed_runs(
                db.drifts, lambda rng, now: seed_document(rng, experiments["search"], schema_version, now), args.docs, log)
            search = measure_search(args, base_url, token, db.drifts, experiments["search"], meter, log)
            at_size = None
            if args.diagnose:
                at_size = measure_at_size(sides, api.session, db.drifts, args.size_runs, log)

            info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
            result = {"command": command, "machine": info, "ingest": ingest, "search": search,
                      "seed": {"docs": args.docs, "seconds": round(seed_seconds, 1), "batch": SEED_BATCH},
                      "document_shape": shapes["api"], "profile": profile, "ingest_at_size": at_size,
                      "total_seconds": round(time.monotonic() - started, 1)}
            for key in ("profile", "ingest_at_size"):
                if result[key] is None:
                    result.pop(key)
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2, default=str) + "\n")
        output.with_suffix(".md").write_text(markdown(result))
        print_table(result)
        print(f"results: {output} and {output.with_suffix('.md')} ({result['total_seconds']} s)")
        return 0 if ingest["pass"] and search["pass"] else 1
    except KeyboardInterrupt:
        stop.set()
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except TimeLimitReached as error:
        stop.set()
        print(f"aborted: {error}", file=sys.stderr)
        return 3
    except BenchmarkError as error:
        stop.set()
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)


if __name__ == "__main__":
    sys.exit(main())
