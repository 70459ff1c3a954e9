"""Client benchmark: what a `with DriftMonitor(...)` block costs, with the server up and with it down.

    python benchmarks/client_block.py [--blocks 200] [--warmup 20] [--down-blocks 10] [--hang-blocks 3]
                                      [--replay-blocks 2] [--output benchmarks/results/client_block.json]

One run starts an embedded SecantusDB server, the sandbox identity provider and the backend under gunicorn
(2 workers x 8 threads), all on 127.0.0.1, mints a token, registers a user and creates one experiment, then
measures with `drift_monitor.DriftMonitor` and a `Client(url=..., token=..., spool_dir=<temp dir>)`:

(a) server up: wall time of `with DriftMonitor(experiment_name, "model-1", client=client): pass`, and of the
    same block with one `monitor.data(True, {...})` call carrying a 50-feature parameters dict, and (for
    information) the empty block given the experiment object instead of its name (no name lookup). The
    variants are interleaved; `--warmup` blocks of each first, then `--blocks` measured blocks of each.
    Afterwards the spool must be empty and the server must hold every run as Completed.
(b) server down, each block with a fresh, empty spool directory:
    - closed port: the URL points to a bound but not listening TCP port on 127.0.0.1 (connection refused);
    - hanging server: a socket that listens but never accepts or reads (the TCP handshake completes in the
      kernel, the request is never answered: the read-timeout path);
    plus, closed port again, `--replay-blocks` blocks entered while the spool already holds runs (each block
    first tries to send them), and a diagnostic with `Client(retry=Retry(0))` to show where the time goes.
    Every down-server block must leave its run in the spool (`Spool.pending()`: a create and a replace).
    The block times are compared with the client's configured connect timeout (`Settings.timeouts[0]`;
    DRIFT_MONITOR_TIMEOUT, capped at MAX_CONNECT_TIMEOUT) and read timeout.

Results go to a JSON file and a markdown file next to it (`--output`); a table is printed. Everything the
script starts is stopped at the end, also on Ctrl-C or after `--time-limit` seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import logging
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pymongo
import requests
import urllib3
from urllib3.util import Retry

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import drift_monitor  # noqa: E402
from _common import BenchmarkError, TimeLimitReached, arm_time_limit, elapsed_logger, machine_info, percentile, verdict  # noqa: E402
from drift_monitor import DEFAULT_RETRY, Client, DriftMonitor  # noqa: E402
from drift_monitor._settings import MAX_CONNECT_TIMEOUT  # noqa: E402
from drift_monitor._spool import Spool  # noqa: E402

from sandbox.backend import sandbox_app_env, start_backend  # noqa: E402
from sandbox.database import EmbeddedMongo  # noqa: E402
from sandbox.idp.launcher import start_idp  # noqa: E402

API = "/api/v1"
USERS_GROUP = "urn:example:drift-monitor:users"
MODEL = "model-1"
HTTP_TIMEOUT = 60


# --------------------------------------------------------------------------------------------------
# Helpers

def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "mean_ms": round(statistics.fmean(ms), 2), "min_ms": round(min(ms), 2), "max_ms": round(max(ms), 2)}


def feature_parameters(rng: random.Random, features: int = 50) -> dict:
    """A realistic data-drift result: KS and PSI per feature, plus a summary."""
    per_feature = {}
    for n in range(features):
        ks_p = round(rng.uniform(0.0001, 0.9), 4)
        psi = round(rng.uniform(0.0, 0.45), 4)
        per_feature[f"feature_{n:02d}"] = {"ks_statistic": round(rng.uniform(0.01, 0.35), 4), "ks_p_value": ks_p,
                                           "psi": psi, "drift": ks_p < 0.05 or psi > 0.25,
                                           "reference_mean": round(rng.gauss(0, 1), 4),
                                           "current_mean": round(rng.gauss(0, 1), 4)}
    drifted = sum(1 for value in per_feature.values() if value["drift"])
    return {"method": "ks+psi", "p_value_threshold": 0.05, "psi_threshold": 0.25, "sample_size": 5000,
            "features": features, "features_drifted": drifted, "per_feature": per_feature}


def expected_connect_retry_sleep(retry: Retry) -> tuple[float, float]:
    """(min, max) seconds urllib3 sleeps between attempts when every connection attempt fails at once."""
    attempts_retried = min(x for x in (retry.total, retry.connect) if x is not None)
    low = high = 0.0
    for errors in range(1, attempts_retried + 1):  # sleep after the errors-th failure (urllib3 get_backoff_time)
        if errors <= 1:
            continue
        base = retry.backoff_factor * 2 ** (errors - 1)
        low += min(retry.backoff_max, base)
        high += min(retry.backoff_max, base + retry.backoff_jitter)
    return low, high


# --------------------------------------------------------------------------------------------------
# Measurements

def measure_up(args, base_url: str, token: str, spool_dir: Path, log) -> dict:
    client = Client(url=base_url, token=token, spool_dir=str(spool_dir))
    name = f"bench-client-{uuid.uuid4().hex[:8]}"
    experiment = client.create_experiment(name, description="client block benchmark")
    found = client.find_experiment(name)
    rng = random.Random(7)
    parameters = feature_parameters(rng)
    payload_bytes = len(json.dumps(parameters))

    def empty_by_name():
        with DriftMonitor(name, MODEL, client=client):
            pass

    def data_by_name():
        with DriftMonitor(name, MODEL, client=client) as monitor:
            monitor.data(True, parameters)

    def empty_by_object():
        with DriftMonitor(found, MODEL, client=client):
            pass

    variants = {"empty": empty_by_name, "data_50_features": data_by_name, "empty_experiment_object": empty_by_object}
    times: dict[str, list[float]] = {key: [] for key in variants}
    order = list(variants)
    total = args.warmup + args.blocks
    log(f"(a) server up: {args.warmup} warm-up + {args.blocks} measured blocks of each of {', '.join(order)}")
    for i in range(total):
        rotated = order[i % len(order):] + order[:i % len(order)]  # rotate who goes first
        for key in rotated:
            start = time.perf_counter()
            variants[key]()
            elapsed = time.perf_counter() - start
            if i >= args.warmup:
                times[key].append(elapsed)
    spooled = len(Spool(spool_dir).pending())
    runs = client.get_drifts(experiment)
    completed = sum(1 for run in runs if run.get("job_status") == "Completed")
    with_data = sum(1 for run in runs if run.get("data_drift"))
    expected = total * len(variants)
    checks = {"spool_pending_after": spooled, "runs_on_server": len(runs), "runs_completed": completed,
              "runs_with_data_drift": with_data, "expected_runs": expected, "expected_with_data": total,
              "ok": spooled == 0 and len(runs) == completed == expected and with_data == total}
    if not checks["ok"]:
        raise BenchmarkError(f"server-up verification failed: {checks}")
    client.close()
    return {"blocks": args.blocks, "warmup": args.warmup, "parameters_json_bytes": payload_bytes,
            "latency": {key: summary_ms(value) for key, value in times.items()}, "checks": checks,
            "http_requests_per_block": {"empty": 3, "data_50_features": 3, "empty_experiment_object": 2}}


def down_blocks(url: str, token: str, count: int, work_dir: Path, label: str, log, retry: Retry | None = None,
                shared_spool: Path | None = None) -> dict:
    """`count` blocks against `url`; each with a fresh spool unless `shared_spool` is given."""
    times, checks = [], []
    for n in range(count):
        spool_dir = shared_spool or (work_dir / f"{label}-{n}")
        before = len(Spool(spool_dir).pending())
        client = Client(url=url, token=token, spool_dir=str(spool_dir), retry=retry)
        start = time.perf_counter()
        with DriftMonitor("bench-down", MODEL, client=client) as monitor:
            pass
        elapsed = time.perf_counter() - start
        client.close()
        pending = Spool(spool_dir).pending()
        mine = [p.name for p in pending if monitor.run_id in p.name]
        ok = monitor.spooled and len(mine) == 2 and any(p.endswith("-create.json") for p in mine) \
            and any(p.endswith("-replace.json") for p in mine) and len(pending) == before + 2
        checks.append({"block": n, "seconds": round(elapsed, 3), "pending_before": before,
                       "pending_after": len(pending), "this_run_files": len(mine), "ok": ok})
        times.append(elapsed)
        log(f"    {label} block {n + 1}/{count}: {elapsed:.2f} s, spool {before} -> {len(pending)} files"
            f"{'' if ok else '  NOT SPOOLED AS EXPECTED'}")
    return {"latency": summary_ms(times), "seconds": [round(t, 3) for t in times], "checks": checks,
            "all_spooled": all(c["ok"] for c in checks)}


def measure_down(args, token: str, work_dir: Path, log) -> dict:
    settings = Client(url="http://127.0.0.1:1", token=token, spool_dir=str(work_dir)).settings
    connect_timeout, read_timeout = settings.timeouts
    sleep_low, sleep_high = expected_connect_retry_sleep(DEFAULT_RETRY)
    result = {"connect_timeout_s": connect_timeout, "read_timeout_s": read_timeout,
              "timeout_setting_s": settings.timeout,
              "default_retry": {"total": DEFAULT_RETRY.total, "connect": DEFAULT_RETRY.connect,
                                "read": DEFAULT_RETRY.read, "backoff_factor": DEFAULT_RETRY.backoff_factor,
                                "backoff_jitter": DEFAULT_RETRY.backoff_jitter,
                                "backoff_max": DEFAULT_RETRY.backoff_max},
              "expected_connect_retry_sleep_s": [sleep_low, sleep_high]}

    # Closed port: bound, not listening -> the kernel answers RST (connection refused); nobody else gets the port.
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    # Hanging server: listens (handshakes complete in the backlog), never accepts or reads.
    hanging = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(1024)
    try:
        closed_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        hanging_url = f"http://127.0.0.1:{hanging.getsockname()[1]}"
        log(f"(b) closed port {closed_url}: {args.down_blocks} blocks, fresh spool each")
        result["closed_port"] = down_blocks(closed_url, token, args.down_blocks, work_dir, "closed", log)
        log(f"(b) closed port, spool already holding runs: 1 + {args.replay_blocks} blocks on one spool")
        shared = work_dir / "closed-shared"
        first = down_blocks(closed_url, token, 1, work_dir, "closed-shared-first", log, shared_spool=shared)
        result["closed_port_with_pending_spool"] = down_blocks(closed_url, token, args.replay_blocks, work_dir,
                                                               "closed-shared", log, shared_spool=shared)
        result["closed_port_with_pending_spool"]["first_block_empty_spool_s"] = first["seconds"][0]
        result["closed_port_with_pending_spool"]["all_spooled"] &= first["all_spooled"]
        log(f"(b) diagnostic: closed port with Client(retry=Retry(0)): {args.down_blocks} blocks")
        result["closed_port_no_retry"] = down_blocks(closed_url, token, args.down_blocks, work_dir, "noretry", log,
                                                     retry=Retry(0, read=False, redirect=False))
        log(f"(b) hanging server {hanging_url}: {args.hang_blocks} blocks, fresh spool each")
        result["hanging_server"] = down_blocks(hanging_url, token, args.hang_blocks, work_dir, "hang", log)
    finally:
        closed.close()
        hanging.close()
    for key in ("closed_port", "closed_port_with_pending_spool", "hanging_server"):
        entry = result[key]
        entry["p95_over_connect_timeout_s"] = round(entry["latency"]["p95_ms"] / 1000 - connect_timeout, 3)
        entry["within_connect_timeout"] = entry["latency"]["max_ms"] / 1000 <= connect_timeout
    return result


# --------------------------------------------------------------------------------------------------
# Reporting

DOWN_LABELS = {
    "closed_port": "closed port (connection refused), fresh spool",
    "closed_port_with_pending_spool": "closed port, spool already holds runs (replay tried first)",
    "hanging_server": "listening socket that never answers, fresh spool",
    "closed_port_no_retry": "diagnostic: closed port, Client(retry=Retry(0))",
}


def print_table(result: dict) -> None:
    up, down = result["server_up"], result["server_down"]
    print()
    print(f"(a) server up, {up['blocks']} measured blocks per variant after {up['warmup']} warm-up")
    print(f"    {'':52}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
    for key, label in (("empty", "empty block (experiment by name)"),
                       ("data_50_features", "block + .data(True, 50-feature dict)"),
                       ("empty_experiment_object", "empty block (experiment object, no lookup)")):
        v = up["latency"][key]
        print(f"    {label:52}{v['p50_ms']:>9.1f}{v['p95_ms']:>9.1f}{v['mean_ms']:>9.1f}")
    print()
    print(f"(b) server down; connect timeout {down['connect_timeout_s']} s, read timeout {down['read_timeout_s']} s")
    print(f"    {'':62}{'n':>4}{'p50 s':>8}{'p95 s':>8}{'max s':>8}  spooled  <= connect timeout")
    for key, label in DOWN_LABELS.items():
        v = down[key]
        lat = v["latency"]
        within = verdict(v["within_connect_timeout"]) if "within_connect_timeout" in v else "-"
        print(f"    {label:62}{lat['n']:>4}{lat['p50_ms'] / 1000:>8.2f}{lat['p95_ms'] / 1000:>8.2f}"
              f"{lat['max_ms'] / 1000:>8.2f}  {'yes' if v['all_spooled'] else 'NO':7}  {within}")
    print()


def markdown(result: dict) -> str:
    info, up, down = result["machine"], result["server_up"], result["server_down"]
    retry = down["default_retry"]
    sleep_low, sleep_high = down["expected_connect_retry_sleep_s"]
    closed, hang = down["closed_port"], down["hanging_server"]
    pend = down["closed_port_with_pending_spool"]
    lines = [
        "# Client benchmark: the cost of a `DriftMonitor` block",
        "",
        f"Measured {info['date']} with `{result['command']}` ({result['elapsed_s']:.0f} s).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| cores | {info['host_cores']} ({info['cpu_model']}) |",
        f"| load average at start | {', '.join(str(x) for x in info['load_average_at_start'])} |",
        f"| python | {info['python']} ({info['platform']}) |",
        f"| drift-monitor | {info['drift_monitor']} (requests {info['requests']}, urllib3 {info['urllib3']}) |",
        f"| database | {info['database']} |",
        f"| backend | gunicorn {info['gunicorn']} |",
        f"| DRIFT_MONITOR_* in the environment | {info['drift_monitor_env'] or 'none (client defaults)'} |",
        "",
        "Everything (database, identity provider, gunicorn, this client) ran on this machine over 127.0.0.1; the",
        "client was `Client(url=..., token=..., spool_dir=<temp dir>)` passed as `DriftMonitor(..., client=client)`.",
        "",
        "## (a) Server up",
        "",
        f"{up['warmup']} warm-up and {up['blocks']} measured blocks per variant, interleaved (the variant that goes "
        "first rotates). The experiment exists before the first block. An empty block by name makes 3 HTTP "
        "requests (experiment search by name, POST Running, PUT Completed); by experiment object 2.",
        f"The `.data()` parameters are 50 features x (KS statistic, KS p-value, PSI, drift flag, two means) plus a "
        f"summary: {up['parameters_json_bytes']} bytes of JSON.",
        "",
        "| block | n | p50 ms | p95 ms | mean ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in (("empty", "`with DriftMonitor(name, \"model-1\"): pass`"),
                       ("data_50_features", "same + `monitor.data(True, <50 features>)`"),
                       ("empty_experiment_object", "empty, experiment object instead of name (information)")):
        v = up["latency"][key]
        lines.append(f"| {label} | {v['n']} | {v['p50_ms']:.1f} | {v['p95_ms']:.1f} | {v['mean_ms']:.1f} | "
                     f"{v['max_ms']:.1f} |")
    c = up["checks"]
    lines += [
        "",
        f"Checked afterwards: spool empty ({c['spool_pending_after']} files), {c['runs_on_server']} runs on the server "
        f"(expected {c['expected_runs']}), {c['runs_completed']} Completed, {c['runs_with_data_drift']} with "
        f"`data_drift` (expected {c['expected_with_data']}).",
        "",
        "## (b) Server down",
        "",
        f"Configured timeouts (`Settings.timeouts`): connect **{down['connect_timeout_s']} s** "
        f"(= min(MAX_CONNECT_TIMEOUT {MAX_CONNECT_TIMEOUT}, DRIFT_MONITOR_TIMEOUT {down['timeout_setting_s']})), "
        f"read {down['read_timeout_s']} s. Requirement from the issue: the block must not wait longer than the "
        "connect timeout before spooling.",
        "",
        "| case | n | p50 s | p95 s | max s | every run spooled | max <= connect timeout |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for key, label in DOWN_LABELS.items():
        v = down[key]
        lat = v["latency"]
        within = f"**{verdict(v['within_connect_timeout'])}**" if "within_connect_timeout" in v else "-"
        lines.append(f"| {label} | {lat['n']} | {lat['p50_ms'] / 1000:.2f} | {lat['p95_ms'] / 1000:.2f} | "
                     f"{lat['max_ms'] / 1000:.2f} | {'yes' if v['all_spooled'] else '**NO**'} | {within} |")
    lines += [
        "",
        "\"Every run spooled\": after each block `Spool.pending()` held that run's `create` and `replace` files "
        "(and nothing else changed). Fresh spool = a new empty spool directory per block; \"spool already holds "
        f"runs\": {pend['latency']['n']} blocks entered with earlier runs pending (the first block on that spool, "
        f"empty, took {pend['first_block_empty_spool_s']:.2f} s and is not counted).",
        "",
        "### Findings",
        "",
        f"- Closed port: p95 {closed['latency']['p95_ms'] / 1000:.2f} s, **{closed['p95_over_connect_timeout_s']:+.2f} s** "
        f"against the {down['connect_timeout_s']} s connect timeout, although the same block with no retries takes "
        f"{down['closed_port_no_retry']['latency']['p50_ms']:.1f} ms (p50, `Retry(0)` row). The wait is urllib3's backoff between retries: "
        f"`DEFAULT_RETRY` in `client/drift_monitor/_api.py` (total={retry['total']}, connect={retry['connect']}, "
        f"backoff_factor={retry['backoff_factor']}, backoff_jitter={retry['backoff_jitter']}) makes "
        f"{retry['connect'] + 1} attempts with sleeps 0, 1, 2, 4 s (+ up to {retry['backoff_jitter']} s jitter each): "
        f"{sleep_low:.1f}–{sleep_high:.1f} s in total, for the first request of the block (the experiment lookup, or "
        "the POST); the PUT is then spooled without a request. The connect timeout bounds one attempt, not the "
        "block.",
        f"- With runs already in the spool, `DriftMonitor.__enter__` first replays the spool (`_replay_spool` in "
        f"`_monitor.py`), which fails through the same retries, then tries the create: p95 "
        f"{pend['latency']['p95_ms'] / 1000:.2f} s per block, about twice the above, for every block while the "
        "server stays down.",
        f"- Hanging server (TCP accepted, never answered): p95 {hang['latency']['p95_ms'] / 1000:.2f} s. The connect "
        f"succeeds, each attempt waits the full read timeout ({down['read_timeout_s']} s) and `DEFAULT_RETRY` allows "
        f"read={retry['read']} retries: {retry['read'] + 1} x {down['read_timeout_s']} s + 1 s backoff. The connect "
        "timeout does not apply to this path at all.",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=200, help="measured blocks per server-up variant (200)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up blocks per server-up variant (20)")
    parser.add_argument("--down-blocks", type=int, default=10,
                        help="blocks against a closed port, and with Retry(0) (default 10)")
    parser.add_argument("--hang-blocks", type=int, default=3,
                        help="blocks against a listening socket that never answers (default 3, ~30 s each)")
    parser.add_argument("--replay-blocks", type=int, default=2,
                        help="closed-port blocks entered with runs already in the spool (default 2)")
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks/results/client_block.json"),
                        help="JSON result file; the markdown goes next to it (.md)")
    parser.add_argument("--time-limit", type=int, default=1800, help="stop everything after this many seconds")
    args = parser.parse_args(argv)
    if min(args.blocks, args.down_blocks, args.hang_blocks, args.replay_blocks) < 1 or args.warmup < 0:
        parser.error("block counts must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    log = elapsed_logger()
    arm_time_limit(args.time_limit)
    # The down-server blocks log a warning each; keep the output to our own lines.
    logging.getLogger("drift_monitor").setLevel(logging.ERROR)
    command = "python benchmarks/client_block.py " + " ".join(argv if argv is not None else sys.argv[1:])
    database_name = f"bench-client-{uuid.uuid4().hex[:12]}"
    try:
        with contextlib.ExitStack() as stack:
            work_dir = Path(tempfile.mkdtemp(prefix="client-block-"))
            stack.callback(shutil.rmtree, work_dir, ignore_errors=True)
            server = EmbeddedMongo().start()
            stack.callback(server.cleanup)
            version = importlib.metadata.version("SecantusDB")
            uri = server.uri + "?retryWrites=false"  # see benchmarks/README.md
            log(f"embedded SecantusDB {version} at {server.uri}")
            mongo = stack.enter_context(pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000))
            stack.callback(lambda: mongo.drop_database(database_name))
            info = {**machine_info(mongo, f"embedded SecantusDB {version}"),
                    "gunicorn": f"{importlib.metadata.version('gunicorn')}, 2 workers x 8 threads (gthread)",
                    "drift_monitor": drift_monitor.__version__, "requests": requests.__version__,
                    "urllib3": urllib3.__version__,
                    "drift_monitor_env": {k: v for k, v in os.environ.items()
                                          if k.startswith("DRIFT_MONITOR_")
                                          and k not in ("DRIFT_MONITOR_TOKEN", "DRIFT_MONITOR_MYTOKEN")}}
            idp = stack.enter_context(start_idp())
            log(f"sandbox identity provider at {idp.issuer}")
            app_env = sandbox_app_env(uri, database_name, idp.issuer)
            base_url = stack.enter_context(start_backend(app_env, workers=2, threads=8))
            log(f"backend at {base_url}")
            sub = str(uuid.uuid4())
            token = idp.token(sub, email=f"{sub[:8]}@example.org", entitlements=[USERS_GROUP], expires_in=6 * 3600)
            response = requests.post(f"{base_url}{API}/user", headers={"Authorization": f"Bearer {token}"},
                                     timeout=HTTP_TIMEOUT)
            if response.status_code != 201:
                raise BenchmarkError(f"registration answered {response.status_code}: {response.text[:300]}")

            up = measure_up(args, base_url, token, work_dir / "spool-up", log)
            down = measure_down(args, token, work_dir, log)
    except TimeLimitReached as error:
        print(f"stopped: {error}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    result = {"command": command, "elapsed_s": round(time.monotonic() - started, 1), "machine": info,
              "server_up": up, "server_down": down}
    print_table(result)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown(result))
    log(f"wrote {output} and {output.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
