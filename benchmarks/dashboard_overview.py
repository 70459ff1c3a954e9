"""Dashboard overview benchmark: how long an experiment's overview takes to load at 100,000 runs.

    python benchmarks/dashboard_overview.py [--runs 100000] [--reps 20] [--browser-reps 8] [--no-browser]
                                            [--mongodb-uri URI] [--output benchmarks/results/dashboard_overview.json]

One run starts (or reuses) a database server, the sandbox identity provider, the backend under gunicorn
and, for the browser part, the dashboard (Streamlit) and headless Chromium, all on 127.0.0.1, then:

1. seeds ONE experiment of alice's with `--runs` runs shaped like detector output (several models over
   90 days, a few Running and Failed jobs, per-feature data-drift results, some concept-drift results)
   straight into the `drifts` collection with `insert_many`. Through the API the same runs would take
   13 to 15 minutes here (132 runs/s in backend_api.md), which is not what is measured. The seeded
   documents are checked to have the shape of a run stored by the API;
2. builds the experiment's day summaries with the backend's own rebuild function (what `flask
   rebuild-summaries` and the first start after an upgrade run) and reports its time;
3. measures the overview's HTTP calls as the page makes them, through the drift-monitor client the
   dashboard uses: GET /experiment/{id} and GET /experiment/{id}/drift/summary with the page's default
   filters (since 90 days ago at UTC midnight, interval auto). Cold: a new client (new connection) and a
   fresh access token every time, plus GET /user/self, which a new dashboard session makes once. Warm:
   one client and token, as a session that reruns. Target: p95 of the page's calls <= 2 s;
4. with Chromium (unless --no-browser): logs alice in, then times navigating to
   /overview?experiment=<id> until the "Drift timeline" chart is rendered, after a few warm-up loads
   (reported too) in which Chromium compiles the app's scripts. Each navigation opens a new Streamlit
   session, so the dashboard's per-session cache is cold every time;
5. times the other views' calls once, for information (parameter series, feature heatmap, facets, the
   experiments list with statistics, the first page of runs).

Results go to a JSON file and a markdown file next to it; a table is printed. On the embedded database
absolute times describe this machine only (see shared/notes/platform-facts.md).
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
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pymongo

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "backend"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))  # the browser test's page object

from _common import (  # noqa: E402
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
from sandbox.dashboard import CLIENT_ID, DashboardServer, redirect_uris  # noqa: E402
from sandbox.database import EmbeddedMongo, free_port  # noqa: E402
from sandbox.idp.launcher import SandboxIdp, start_idp  # noqa: E402

API = "/api/v1"
TARGET_SECONDS = 2.0
DAYS = 90
HTTP_TIMEOUT = 300
MODELS = ["scorer-v1", "scorer-v2", "scorer-shadow", "ranker-a", "ranker-b"]
FEATURES = ["age", "income", "tenure", "balance", "num_products", "credit_score", "region", "channel", "device",
            "segment"]
TAG_CHOICES = [[], ["nightly"], ["prod"], ["prod", "v2"]]
SERIES_PARAMETER = "data_drift.parameters.age.p_value"


# --------------------------------------------------------------------------------------------------
# Runs shaped like detector output

def utc_now() -> dt.datetime:
    now = dt.datetime.now(dt.timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # BSON keeps milliseconds


def run_content(rng: random.Random, age_days: float) -> dict:
    """What a detector reports for one run; data drift grows over the 90 days (newest runs drift most)."""
    model = rng.choice(MODELS)
    roll = rng.random()
    if roll < 0.01:
        return {"job_status": "Running", "model": model, "tags": list(rng.choice(TAG_CHOICES)),
                "drift_detected": False, "parameters": {}}
    if roll < 0.04:
        return {"job_status": "Failed", "model": model, "tags": list(rng.choice(TAG_CHOICES)),
                "drift_detected": False,
                "parameters": {"error": rng.choice(["reference data missing", "out of memory", "timeout"])}}
    pressure = 0.05 + 0.4 * (1 - age_days / DAYS)  # chance that a feature drifts
    per_feature = {}
    for feature in FEATURES:
        drifting = rng.random() < pressure
        p_value = rng.uniform(0.0, 0.01) if drifting else rng.uniform(0.05, 1.0)
        per_feature[feature] = {"statistic": round(rng.uniform(0.15, 0.5) if drifting else rng.uniform(0.0, 0.12), 4),
                                "p_value": round(p_value, 6), "drift": drifting}
    data_drift = {"drift": sum(f["drift"] for f in per_feature.values()) >= 3, "parameters": per_feature}
    content = {"job_status": "Completed", "model": model, "tags": list(rng.choice(TAG_CHOICES)),
               "parameters": {"n_reference": 5000, "n_current": rng.randint(800, 1200),
                              "accuracy": round(rng.uniform(0.80, 0.95), 4)},
               "data_drift": data_drift}
    if rng.random() < 0.25:
        drop = round(rng.uniform(0.0, 0.08), 4)
        content["concept_drift"] = {"drift": drop > 0.05, "parameters": {"accuracy_drop": drop, "threshold": 0.05}}
    content["drift_detected"] = data_drift["drift"] or content.get("concept_drift", {}).get("drift", False)
    return content


def seed_document(rng: random.Random, experiment_id: str, schema_version: str, now: dt.datetime) -> dict:
    age = rng.uniform(0, DAYS * 86400)
    created = now - dt.timedelta(seconds=age)
    created = created.replace(microsecond=created.microsecond // 1000 * 1000)
    content = run_content(rng, age / 86400)
    finished = content["job_status"] != "Running"
    updated = created + dt.timedelta(milliseconds=rng.randint(1000, 600_000)) if finished else created
    return {"_id": str(uuid.uuid4()), "experiment_id": experiment_id, "schema_version": schema_version,
            **content, "created_at": created, "updated_at": updated}


def shape(document: dict, depth: int = 2) -> dict:
    """Field names and value types down to ``depth`` levels (feature names aside)."""
    out = {}
    for key, value in document.items():
        if isinstance(value, dict) and depth > 1 and key not in ("parameters",):
            out[key] = shape(value, depth - 1)
        else:
            out[key] = type(value).__name__
    return out


# --------------------------------------------------------------------------------------------------
# Measuring

def latency_summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"n": len(values), "p50_ms": round(1000 * percentile(ordered, 50), 1),
            "p95_ms": round(1000 * percentile(ordered, 95), 1), "mean_ms": round(1000 * statistics.fmean(values), 1),
            "min_ms": round(1000 * ordered[0], 1), "max_ms": round(1000 * ordered[-1], 1)}


def timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def overview_filters(today: dt.date) -> dict:
    """The overview's default filters, as the dashboard computes them (frontend/dashboard/filters.py)."""
    since = dt.datetime(today.year, today.month, today.day, tzinfo=dt.timezone.utc) - dt.timedelta(days=DAYS)
    return {"since": since}


def measure_http(base_url: str, idp: SandboxIdp, experiment_id: str, reps: int, warmup: int, log) -> dict:
    from drift_monitor import Client

    filters = overview_filters(utc_now().date())

    def page_calls(client) -> dict[str, float]:
        experiment_seconds, _ = timed(lambda: client.get_experiment(experiment_id))
        summary_seconds, summary = timed(lambda: client.drift_summary(experiment_id, **filters))
        if summary["totals"]["runs"] <= 0:
            raise BenchmarkError(f"the summary counts no runs: {summary['totals']}")
        return {"experiment": experiment_seconds, "summary": summary_seconds,
                "page": experiment_seconds + summary_seconds}

    samples: dict[str, dict[str, list[float]]] = {"cold": {}, "warm": {}}

    def record(mode: str, values: dict[str, float]) -> None:
        for name, seconds in values.items():
            samples[mode].setdefault(name, []).append(seconds)

    # The first overview after the rebuild: nothing of this experiment is in any cache yet.
    with Client(url=base_url, token=idp.user_token("alice"), timeout=HTTP_TIMEOUT) as client:
        first = page_calls(client)
    log(f"first overview after the rebuild: {1000 * first['page']:.0f} ms "
        f"(summary {1000 * first['summary']:.0f} ms)")

    for index in range(warmup + reps):
        # Cold: a new connection and a token the backend has not validated yet (its userinfo call and
        # token cache miss), and GET /user/self, which a new dashboard session makes once.
        with Client(url=base_url, token=idp.user_token("alice"), timeout=HTTP_TIMEOUT) as client:
            whoami_seconds, _ = timed(client.get_self)
            values = page_calls(client)
        if index >= warmup:
            record("cold", {"user_self": whoami_seconds, **values,
                            "page_with_user_self": whoami_seconds + values["page"]})
    with Client(url=base_url, token=idp.user_token("alice"), timeout=HTTP_TIMEOUT) as client:
        for index in range(warmup + reps):
            values = page_calls(client)
            if index >= warmup:
                record("warm", values)
    result = {"first_after_rebuild_ms": {name: round(1000 * value, 1) for name, value in first.items()},
              "filters": {"since": filters["since"].isoformat(), "interval": "auto"}, "warmup": warmup}
    for mode, by_call in samples.items():
        result[mode] = {name: latency_summary(values) for name, values in by_call.items()}
        log(f"{mode}: page p50 {result[mode]['page']['p50_ms']:.0f} ms, p95 {result[mode]['page']['p95_ms']:.0f} ms")
    result["pass"] = all(result[mode]["page"]["p95_ms"] <= 1000 * TARGET_SECONDS for mode in ("cold", "warm"))
    return result


def wait_until_database_idle(mongo: pymongo.MongoClient, database_name: str, limit: float) -> float | None:
    """Seconds until a one-document read answers promptly again, or None if not within ``limit``.

    A request the backend gave up on (503 after its socket timeout) leaves its aggregation running
    on the embedded server, which delays everything after it: wait it out, and report how long the
    database really worked, before the next call is timed."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        probe_started = time.perf_counter()
        try:
            mongo[database_name].experiments.find_one({}, {"_id": 1})
        except pymongo.errors.PyMongoError:
            pass
        else:
            if time.perf_counter() - probe_started < 0.2:
                return time.perf_counter() - started
        time.sleep(0.5)
    return None


def measure_other_views(base_url: str, token: str, experiment_id: str, mongo: pymongo.MongoClient,
                        database_name: str, idle_limit: float, log) -> dict:
    """One call per other view, for information: what opening it costs on this experiment.

    Without retries: each figure is one request, and an answer of 503 (the backend gives up on a
    database operation after its socket timeout) is reported as such instead of being repeated.
    Cheapest first; after each call the database must be idle again before the next is timed."""
    from drift_monitor import Client
    from urllib3.util import Retry

    filters = overview_filters(utc_now().date())
    since = filters["since"].isoformat().replace("+00:00", "Z")
    # Each call with what its answer holds, so that a fast answer can be told from an empty one.
    calls: dict[str, tuple[Callable[[Client], object], Callable[[object], str]]] = {
        "facets (filters' suggestions)": (
            lambda c: c.drift_facets(experiment_id),
            lambda r: f"{r['sampled_runs']} runs sampled, {len(r['parameters'])} parameters"),
        "experiments list with stats": (
            lambda c: c.request("POST", "/experiment/search", json_body={},
                                params={"with_stats": "true", "page_size": 20}).json(),
            lambda r: f"{len(r)} experiments"),
        "runs, first page of 50": (
            lambda c: c.request("POST", f"/experiment/{experiment_id}/drift/search",
                                json_body={"created_at": {"$gte": since}},
                                params={"page": 1, "page_size": 50, "sort_by": "created_at", "order_by": "desc"}
                                ).json(),
            lambda r: f"{len(r)} runs"),
        f"series {SERIES_PARAMETER}": (
            lambda c: c.parameter_series(experiment_id, SERIES_PARAMETER, **filters),
            lambda r: f"{r['matched']:,} runs matched, {len(r['points'])} points"
                      + (", downsampled" if r["downsampled"] else "")),
        "heatmap data_drift p_value": (
            lambda c: c.feature_heatmap(experiment_id, **filters),
            lambda r: f"{len(r['features'])} of {r['features_total']} features, {len(r['cells'])} cells"),
    }
    out = {}
    with Client(url=base_url, token=token, timeout=HTTP_TIMEOUT, retry=Retry(0)) as client:
        for name, (call, describe) in calls.items():
            started = time.perf_counter()
            try:
                answer = call(client)
                out[name] = {"ms": round(1000 * (time.perf_counter() - started), 1), "answer": describe(answer)}
            except Exception as error:  # noqa: BLE001 — reported, the benchmark goes on
                out[name] = {"ms": round(1000 * (time.perf_counter() - started), 1),
                             "error": f"{type(error).__name__}: {error}".split(" (")[0][:200]}
            busy = wait_until_database_idle(mongo, database_name, idle_limit)
            if busy is None:
                out[name]["database_busy_s"] = f"> {idle_limit:g}"
                log(f"{name}: {out[name]}; the database is still busy, the remaining calls are skipped")
                break
            if busy > 1:
                out[name]["database_busy_s"] = round(busy, 1)
            log(f"{name}: {out[name]}")
    for name in calls:
        out.setdefault(name, {"skipped": "the database was still busy with the previous call"})
    return out


def measure_browser(dashboard_url: str, experiment_id: str, reps: int, warmup: int, profile_dir: Path, log) -> dict:
    from dashboard_page import DashboardPage, start_chromium

    driver = start_chromium(profile_dir)
    try:
        page = DashboardPage(driver, dashboard_url, poll=0.02)
        page.open("/")
        page.log_in("alice")
        samples, framed = [], []
        for index in range(warmup + reps):
            started = time.perf_counter()
            page.open(f"/overview?experiment={experiment_id}")
            # A milestone on the way: the app's frame has run (the sidebar names the user).
            page.wait().until(lambda driver: "Logged in as" in page.sidebar_text())
            sidebar_seconds = time.perf_counter() - started
            page.wait_for_chart("Drift timeline")
            seconds = time.perf_counter() - started
            page.wait_until_idle()
            errors = page.errors()
            if errors:
                raise BenchmarkError(f"the overview shows errors: {errors}")
            samples.append(seconds)
            framed.append(sidebar_seconds)
            log(f"browser load {index + 1}/{warmup + reps}: chart drawn after {1000 * seconds:.0f} ms "
                f"(sidebar after {1000 * sidebar_seconds:.0f} ms)" + (" (warm-up)" if index < warmup else ""))
        # The first loads compile the app's scripts (Streamlit, plotly.js); Chromium caches the
        # compiled code after a few, as a returning user's browser has it.
        result = {"warmup_ms": [round(1000 * value, 1) for value in samples[:warmup]],
                  **latency_summary(samples[warmup:]),
                  "samples_ms": [round(1000 * value, 1) for value in samples[warmup:]],
                  "sidebar_shown": latency_summary(framed[warmup:])}
        result["pass"] = result["p95_ms"] <= 1000 * TARGET_SECONDS
        return result
    finally:
        driver.quit()


# --------------------------------------------------------------------------------------------------
# Setting up

@contextlib.contextmanager
def database(uri: str | None, log) -> Iterator[tuple[str, str]]:
    if uri:
        yield uri, "external server (--mongodb-uri / MONGODB_URI)"
        return
    server = EmbeddedMongo().start()
    try:
        version = importlib.metadata.version("SecantusDB")
        log(f"embedded SecantusDB {version} at {server.uri}")
        # Retryable writes off, as in backend_api.py: the embedded server's per-write cost grows with them.
        yield server.uri + "?retryWrites=false", f"embedded SecantusDB {version}"
    finally:
        server.cleanup()


def wait_until_prepared(db, deadline_seconds: float = 60) -> None:
    """Wait for the backend's start-up work (indexes, the summaries' meta document), so that no
    start-up rebuild runs while the benchmark's own does."""
    from drift_backend.repositories.summaries import META_ID

    deadline = time.monotonic() + deadline_seconds
    while db.meta.find_one({"_id": META_ID, "state": "ready"}) is None:
        if time.monotonic() > deadline:
            raise BenchmarkError("the backend did not prepare the database")
        time.sleep(0.2)


def rebuild(db, experiment_id: str) -> dict:
    """What `flask rebuild-summaries --experiment ID` does, timed."""
    from drift_backend.repositories.summaries import DriftSummaries

    seconds, written = timed(lambda: DriftSummaries(db).rebuild(experiment_id))
    counted = sum(d["runs"] for d in db.drift_summaries.find({"experiment_id": experiment_id}, {"runs": 1}))
    return {"seconds": round(seconds, 2), "summary_documents": written, "runs_counted": counted}


# --------------------------------------------------------------------------------------------------
# Reporting

def view_outcome(values: dict) -> str:
    if "skipped" in values:
        return f"skipped: {values['skipped']}"
    text = f"{values['ms']:,.0f} ms" + (f", {values['error']}" if "error" in values else f" ({values['answer']})")
    if "database_busy_s" in values:
        text += f"; the database stayed busy {values['database_busy_s']} s longer"
    return text


def print_table(result: dict) -> None:
    http = result["http"]
    print()
    print(f"Overview of one experiment with {result['seed']['runs']:,} runs "
          f"(target: p95 <= {TARGET_SECONDS:g} s)")
    print(f"  seeding (insert_many) {result['seed']['seconds']:.1f} s; summary rebuild "
          f"{result['rebuild']['seconds']:.2f} s -> {result['rebuild']['summary_documents']} summary documents")
    print(f"  {'':44}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for mode in ("cold", "warm"):
        for name, values in http[mode].items():
            print(f"  HTTP {mode:5} {name:33}{values['p50_ms']:>10.1f}{values['p95_ms']:>10.1f}{values['max_ms']:>10.1f}")
    print(f"  HTTP page calls p95 within target: {verdict(http['pass'])}")
    browser = result.get("browser")
    if browser and "p50_ms" in browser:
        print(f"  {'browser: navigate until Drift timeline drawn':44}{browser['p50_ms']:>10.1f}"
              f"{browser['p95_ms']:>10.1f}{browser['max_ms']:>10.1f}   {verdict(browser['pass'])}")
        shown = browser["sidebar_shown"]
        print(f"  {'  (on the way: sidebar shown)':44}{shown['p50_ms']:>10.1f}{shown['p95_ms']:>10.1f}"
              f"{shown['max_ms']:>10.1f}")
    elif browser:
        print(f"  browser: {browser.get('skipped')}")
    print("  other views, one call each:")
    for name, values in result["other_views"].items():
        print(f"    {name:42}{view_outcome(values)}")
    print()


def markdown(result: dict) -> str:
    machine, http, browser = result["machine"], result["http"], result.get("browser") or {}
    lines = [
        "# Dashboard overview benchmark",
        "",
        f"`{result['command']}` on {machine['date']}: {machine['host_cores']} cores ({machine['cpu_model']}), "
        f"{machine['database']}, gunicorn {result['gunicorn']}, load average at start "
        f"{machine['load_average_at_start']}, at end {machine.get('load_average_at_end')}"
        + (" (busier than its cores: other work competed, absolute times are inflated)."
           if machine["load_average_at_start"][0] > machine["host_cores"] else "."),
        "",
        f"One experiment with **{result['seed']['runs']:,} runs** ({len(MODELS)} models, {DAYS} days, "
        + ", ".join(f"{count:,} {status}" for status, count in result["seed"]["by_status"].items())
        + f"), seeded with `insert_many` in {result['seed']['seconds']:.1f} s "
        "(through the API: 13 to 15 minutes at the 132 runs/s of backend_api.md). "
        "Summary rebuild (`DriftSummaries.rebuild`, as `flask rebuild-summaries`): "
        f"**{result['rebuild']['seconds']:.2f} s**, {result['rebuild']['summary_documents']} summary documents "
        f"counting {result['rebuild']['runs_counted']:,} runs.",
        "",
        f"## Overview HTTP calls (target: p95 of the page's calls <= {TARGET_SECONDS:g} s)",
        "",
        "GET /experiment/{id} + GET /experiment/{id}/drift/summary?since=<90 days ago>&interval=auto, through "
        f"the drift-monitor client; {http['warm']['page']['n']} measured per mode after {http['warmup']} warm-up. "
        "Cold: new connection and a fresh token each time, plus GET /user/self (once per dashboard session). "
        "Warm: one connection and token.",
        "",
        "| mode | call | p50 ms | p95 ms | mean ms | max ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mode in ("cold", "warm"):
        for name, values in http[mode].items():
            lines.append(f"| {mode} | {name} | {values['p50_ms']} | {values['p95_ms']} | {values['mean_ms']} | "
                         f"{values['max_ms']} |")
    first = http["first_after_rebuild_ms"]
    lines += ["", f"First overview right after the rebuild: {first['page']} ms (experiment {first['experiment']} ms, "
              f"summary {first['summary']} ms). Verdict: **{verdict(http['pass'])}**.", "", "## In the browser", ""]
    if "p50_ms" in browser:
        lines += [f"Headless Chromium, logged in as alice: navigate to `/overview?experiment=<id>` until the "
                  f"plotly chart titled \"Drift timeline\" is drawn (a new Streamlit session each time, so the "
                  f"dashboard's cache is cold). {browser['n']} measured ({browser['samples_ms']} ms) after "
                  f"{len(browser['warmup_ms'])} warm-up loads ({browser['warmup_ms']} ms: Chromium compiles the "
                  f"app's scripts, then keeps the compiled code, as a returning user's browser has it): p50 **{browser['p50_ms']} ms**, p95 **{browser['p95_ms']} ms**, "
                  f"max {browser['max_ms']} ms. Verdict: **{verdict(browser['pass'])}**. On the way, the sidebar "
                  f"naming the user (the app's frame has run) shows after p50 {browser['sidebar_shown']['p50_ms']} ms."]
    else:
        lines += [f"Not measured: {browser.get('skipped', 'no result')}."]
    lines += ["", "## Other views, one call each (for information)", "",
              "Without retries, cheapest first; after each call the benchmark waits until the database answers "
              "promptly again (a request the backend gave up on keeps the embedded server busy).", "",
              "| call | outcome |", "|---|---|"]
    for name, values in result["other_views"].items():
        lines.append(f"| {name} | {view_outcome(values)} |")
    lines += ["", f"Total benchmark time: {result['total_seconds']} s.", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000, help="runs seeded into the experiment (default 100000)")
    parser.add_argument("--reps", type=int, default=20, help="measured overview loads per HTTP mode (default 20)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured loads before each HTTP mode (default 2)")
    parser.add_argument("--browser-reps", type=int, default=8, help="measured browser loads (default 8)")
    parser.add_argument("--browser-warmup", type=int, default=3,
                        help="unmeasured browser loads first, while Chromium compiles the app's scripts (default 3)")
    parser.add_argument("--no-browser", dest="browser", action="store_false", help="skip the browser part")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (default 8)")
    parser.add_argument("--mongodb-uri", help="use this server instead of an embedded one")
    parser.add_argument("--output", default=str(REPO_ROOT / "benchmarks/results/dashboard_overview.json"),
                        help="JSON result file; the markdown report goes next to it (.md)")
    parser.add_argument("--idle-limit", type=float, default=150,
                        help="seconds to wait for the database to finish a call the backend gave up on (default 150)")
    parser.add_argument("--time-limit", type=int, default=900, help="abort after this many seconds (default 900)")
    args = parser.parse_args(argv)
    if min(args.runs, args.reps, args.browser_reps, args.workers, args.threads) < 1:
        parser.error("counts must be positive")
    if min(args.warmup, args.browser_warmup) < 0:
        parser.error("warm-up counts cannot be negative")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    log = elapsed_logger()
    arm_time_limit(args.time_limit)
    database_name = f"bench-overview-{uuid.uuid4().hex[:8]}"
    command = " ".join(["python benchmarks/dashboard_overview.py", *(argv if argv is not None else sys.argv[1:])])
    try:
        with contextlib.ExitStack() as stack:
            uri, db_description = stack.enter_context(database(args.mongodb_uri, log))
            mongo = stack.enter_context(pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000))
            if args.mongodb_uri:  # an embedded server's files go with it
                stack.callback(lambda: mongo.drop_database(database_name))
            db = mongo[database_name]
            info = machine_info(mongo, db_description)

            dashboard_port = free_port()
            idp = stack.enter_context(start_idp(redirect_uris={CLIENT_ID: redirect_uris(dashboard_port)}))
            app_env = sandbox_app_env(uri, database_name, idp.issuer)
            base_url = stack.enter_context(start_backend(app_env, workers=args.workers, threads=args.threads))
            log(f"backend at {base_url} ({args.workers} workers x {args.threads} threads)")

            from drift_monitor import Client

            with Client(url=base_url, token=idp.user_token("alice")) as alice:
                alice.register()
                experiment = alice.create_experiment(f"overview-{uuid.uuid4().hex[:6]}", description="benchmark")
                wait_until_prepared(db)
                # A run made by the API: the seeded documents must look exactly like it.
                probe_content = run_content(random.Random(7), 1.0)
                while probe_content["job_status"] != "Completed" or "concept_drift" not in probe_content:
                    probe_content = run_content(random.Random(random.random()), 1.0)
                probe = alice.create_drift(experiment, **probe_content)
                stored = db.drifts.find_one({"_id": probe.id})
                seeded = seed_document(random.Random(1), experiment.id, stored["schema_version"], utc_now())
                seeded.update(probe_content)
                if shape(stored) != shape(seeded):
                    raise BenchmarkError(f"seeded shape differs from the API's: {shape(stored)} != {shape(seeded)}")
                alice.delete_drift(experiment, probe.id)

            log(f"seeding {args.runs} runs with insert_many")
            seed_seconds = seed_runs(
                db.drifts, lambda rng, now: seed_document(rng, experiment.id, stored["schema_version"], now), args.runs, log,
                every=25000)
            by_status = {status: db.drifts.count_documents({"experiment_id": experiment.id, "job_status": status})
                         for status in ("Completed", "Running", "Failed")}
            log(f"rebuilding the experiment's summaries ({by_status})")
            rebuilt = rebuild(db, experiment.id)
            log(f"rebuild: {rebuilt}")
            if rebuilt["runs_counted"] != args.runs:
                raise BenchmarkError(f"the summaries count {rebuilt['runs_counted']} runs, not {args.runs}")

            http = measure_http(base_url, idp, experiment.id, args.reps, args.warmup, log)

            if not args.browser:
                browser = {"skipped": "--no-browser"}
            else:
                from dashboard_page import missing_browser

                reason = missing_browser()
                if reason:
                    browser = {"skipped": reason}
                    log(f"browser part skipped: {reason}")
                else:
                    dashboard = DashboardServer(base_url, idp.issuer, dashboard_port, watch_files=False)
                    dashboard.start(timeout=60)
                    stack.callback(dashboard.stop)
                    profile = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chromium-")))
                    browser = measure_browser(dashboard.url, experiment.id, args.browser_reps, args.browser_warmup,
                                              profile, log)

            other_views = measure_other_views(base_url, idp.user_token("alice"), experiment.id, mongo, database_name,
                                              args.idle_limit, log)

            info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
            result = {"command": command, "machine": info, "gunicorn": f"{args.workers} workers x {args.threads} threads",
                      "seed": {"runs": args.runs, "seconds": round(seed_seconds, 1), "by_status": by_status,
                               "models": MODELS, "features": FEATURES, "days": DAYS},
                      "rebuild": rebuilt, "http": http, "browser": browser, "other_views": other_views,
                      "target_seconds": TARGET_SECONDS, "total_seconds": round(time.monotonic() - started, 1)}
            # Before the clean-up: stopping the servers takes a while and must not lose the results.
            output = Path(args.output)
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(json.dumps(result, indent=2, default=str) + "\n")
            output.with_suffix(".md").write_text(markdown(result))
            log("stopping everything")
        print_table(result)
        print(f"results: {output} and {output.with_suffix('.md')} ({result['total_seconds']} s)")
        return 0 if http["pass"] and browser.get("pass", True) else 1
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except TimeLimitReached as error:
        print(f"aborted: {error}", file=sys.stderr)
        return 3
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)


if __name__ == "__main__":
    sys.exit(main())
