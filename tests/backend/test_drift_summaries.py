"""Drift summaries: per-day counters kept exact by every run write, rebuilt on demand, read by /drift/summary.

Expectations are computed here from the stored runs, independently of the server's counters.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

import pymongo
import pytest

from drift_backend import create_app
from drift_backend.repositories import summaries
from drift_backend.settings import Settings
from factories import API, drifts_url, iso, run_body

UTC = timezone.utc
COUNTS = ("runs", "running", "completed", "failed", "drift_detected", "concept_detected", "concept_not_detected",
          "data_detected", "data_not_detected")


@pytest.fixture
def app_env(app_env):
    """Counter changes written by each request (APP_SUMMARY_DELAY_MS=0), so tests can read the collection
    as soon as a request is answered."""
    return {**app_env, "APP_SUMMARY_DELAY_MS": "0"}


def get_summary(client, experiment, user=None, **params):
    response = client.get(drifts_url(experiment, "summary"), query_string=params,
                          headers=user.headers if user else {})
    assert response.status_code == 200, response.json
    return response.json


# What the counters must say, computed from the runs -----------------------------------------------


def counter_key(run: dict) -> tuple:
    """A run's counter, from a stored run (datetimes) or an API run (ISO strings)."""
    created = run["created_at"]
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    return (created.astimezone(UTC).date().isoformat(), run["model"], run["job_status"],
            (run.get("concept_drift") or {}).get("drift"), (run.get("data_drift") or {}).get("drift"),
            run["drift_detected"])


def counters_of_runs(db, experiment_id: str) -> dict:
    return dict(Counter(counter_key(run) for run in db.drifts.find({"experiment_id": experiment_id})))


def stored_counters(db, experiment_id: str) -> dict:
    """The non-zero counters stored for an experiment, keyed like `counter_key`."""
    counters = {}
    for document in db.drift_summaries.find({"experiment_id": experiment_id}):
        for name, entry in document.get("counts", {}).items():
            if entry["runs"]:
                status, *outcomes = name.split("|")
                counters[(document["day"].date().isoformat(), document["model"], status,
                          *(json.loads(outcome) for outcome in outcomes))] = entry["runs"]
    return counters


def assert_counters_exact(db, experiment_id: str) -> None:
    assert stored_counters(db, experiment_id) == counters_of_runs(db, experiment_id)
    # Each document's totals agree with its entries.
    for document in db.drift_summaries.find({"experiment_id": experiment_id}):
        entries = [(name.split("|"), entry["runs"]) for name, entry in document.get("counts", {}).items()]
        assert document.get("runs", 0) == sum(runs for _name, runs in entries)
        for status in ("Running", "Completed", "Failed"):
            assert document.get(status.lower(), 0) == sum(runs for name, runs in entries if name[0] == status)
        assert document.get("drift_detected", 0) == sum(runs for name, runs in entries if name[3] == "true")


def parse_moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def day_floor(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def bucket_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def counts_of(runs: list[dict]) -> dict:
    def outcome(run, result):
        return (run.get(result) or {}).get("drift")

    return {
        "runs": len(runs),
        "running": sum(run["job_status"] == "Running" for run in runs),
        "completed": sum(run["job_status"] == "Completed" for run in runs),
        "failed": sum(run["job_status"] == "Failed" for run in runs),
        "drift_detected": sum(run["drift_detected"] is True for run in runs),
        "concept_detected": sum(outcome(run, "concept_drift") is True for run in runs),
        "concept_not_detected": sum(outcome(run, "concept_drift") is False for run in runs),
        "data_detected": sum(outcome(run, "data_drift") is True for run in runs),
        "data_not_detected": sum(outcome(run, "data_drift") is False for run in runs),
    }


def expected_buckets(runs: list[dict], interval: str) -> list[dict]:
    groups: dict[tuple, list] = {}
    for run in runs:
        day = datetime.fromisoformat(run["created_at"]).date()
        groups.setdefault((bucket_start(day, interval), run["model"]), []).append(run)
    return [{"start": f"{start.isoformat()}T00:00:00.000Z", "model": model, **counts_of(group)}
            for (start, model), group in sorted(groups.items())]


def selected(run: dict, *, since=None, until=None, model=(), tag=(), job_status=(), drift_type=None,
             detected=None) -> bool:
    created = parse_moment(run["created_at"])
    if since is not None and created < since:
        return False
    if until is not None and created >= until:
        return False
    if model and run["model"] not in model:
        return False
    if tag and not set(tag) <= set(run["tags"]):
        return False
    if job_status and run["job_status"] not in job_status:
        return False
    if drift_type is not None:
        outcome = (run.get(f"{drift_type}_drift") or {}).get("drift")
        return outcome is not None if detected is None else outcome is detected
    return detected is None or run["drift_detected"] is detected


# Counters follow every write ---------------------------------------------------------------------


def test_counters_stay_exact_through_every_kind_of_run_write(client, alice, experiment, db):
    url = drifts_url(experiment)
    replayed = run_body(id=str(uuid.uuid4()), model="a")
    first = client.post(url, json=replayed, headers=alice.headers)
    assert first.status_code == 201
    assert_counters_exact(db, experiment["id"])

    assert client.post(url, json=replayed, headers=alice.headers).status_code == 200  # replay counts nothing
    assert stored_counters(db, experiment["id"]) == {counter_key(first.json): 1}

    other = client.post(url, json=run_body(model="b", created_at="2026-02-01T23:59:59.999Z"),
                        headers=alice.headers).json
    assert_counters_exact(db, experiment["id"])

    completed = client.put(drifts_url(experiment, first.json["id"]), headers=alice.headers, json=run_body(
        model="a", job_status="Completed", data_drift={"drift": True, "parameters": {}}))
    assert completed.status_code == 200
    assert_counters_exact(db, experiment["id"])
    assert stored_counters(db, experiment["id"])[counter_key(completed.json)] == 1

    for change in ({"model": "c"}, {"concept_drift": {"drift": False}}, {"data_drift": {"drift": False}},
                   {"tags": ["no-key-change"]}, {"job_status": "Failed"}):
        response = client.patch(drifts_url(experiment, other["id"]), json=change, headers=alice.headers)
        assert response.status_code == 200, response.json
        assert_counters_exact(db, experiment["id"])

    # PUT removes results not sent: the run moves back to a key without them.
    client.put(drifts_url(experiment, first.json["id"]), json=run_body(model="a", job_status="Completed"),
               headers=alice.headers)
    assert_counters_exact(db, experiment["id"])

    assert client.delete(drifts_url(experiment, other["id"]), headers=alice.headers).status_code == 204
    assert_counters_exact(db, experiment["id"])
    assert sum(stored_counters(db, experiment["id"]).values()) == 1


def test_refused_writes_count_nothing(client, alice, experiment, make_run, db):
    run = make_run(alice, experiment, job_status="Completed")
    before = stored_counters(db, experiment["id"])

    assert client.put(drifts_url(experiment, run["id"]), json=run_body(job_status="Running"),
                      headers=alice.headers).status_code == 409
    assert client.patch(drifts_url(experiment, run["id"]), json={"job_status": "Failed"},
                        headers=alice.headers).status_code == 409
    assert client.post(drifts_url(experiment), json=run_body(id=run["id"], model="other"),
                       headers=alice.headers).status_code == 409

    assert stored_counters(db, experiment["id"]) == before


def test_concurrent_changes_of_one_run_keep_the_counters_exact(app, alice, experiment, make_run, db):
    run = make_run(alice, experiment)
    models = [f"model-{index}" for index in range(8)]

    def patch(model):
        with app.test_client() as client:
            return client.patch(drifts_url(experiment, run["id"]), json={"model": model},
                                headers=alice.headers).status_code

    threads = [threading.Thread(target=patch, args=(model,)) for model in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert_counters_exact(db, experiment["id"])
    assert sum(stored_counters(db, experiment["id"]).values()) == 1


def test_concurrent_ingest_of_many_runs_is_counted_exactly(app, alice, experiment, db):
    """Writes that arrive together are counted together (one merged update): none may be lost or doubled."""

    def report(index):
        with app.test_client() as client:
            body = run_body(model=f"model-{index % 3}")
            created = client.post(drifts_url(experiment), json=body, headers=alice.headers)
            assert created.status_code == 201, created.json
            finished = {**body, "job_status": "Completed",
                        "data_drift": {"drift": index % 2 == 0, "parameters": {"drift_share": index / 100}}}
            replaced = client.put(drifts_url(experiment, created.json["id"]), json=finished, headers=alice.headers)
            assert replaced.status_code == 200, replaced.json

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(report, range(36)))

    assert_counters_exact(db, experiment["id"])
    assert sum(stored_counters(db, experiment["id"]).values()) == 36
    digests = [document["stats"] for document in db.drift_summaries.find({"experiment_id": experiment["id"]})]
    counted = sum(digest[detected]["data_drift"]["parameters"]["drift_share"]["n"]
                  for digest in digests for detected in digest)
    assert counted == 36


def test_a_failed_counter_write_fails_every_request_merged_into_it(app_env, alice, experiment, db):
    calls = []

    def failing_write(collection, changes):
        calls.append(len(changes))
        raise pymongo.errors.AutoReconnect("the database went away")

    # An app of the same database whose writer's database writes fail.
    failing = create_app(Settings.from_environ(app_env), summary_writer=summaries.SummaryWriter(write=failing_write))
    try:
        with failing.test_client() as client:
            response = client.post(drifts_url(experiment), json=run_body(), headers=alice.headers)
    finally:
        failing.extensions["mongo"].close()

    assert response.status_code == 503
    assert response.json["code"] == 503
    assert calls == [1]


def test_deleting_an_experiment_removes_its_summaries(client, alice, make_experiment, make_run, db):
    doomed, kept = make_experiment(alice), make_experiment(alice)
    for experiment in (doomed, kept):
        make_run(alice, experiment)
    assert db.drift_summaries.count_documents({"experiment_id": doomed["id"]}) == 1

    assert client.delete(f"{API}/experiment/{doomed['id']}", headers=alice.headers).status_code == 204

    assert db.drift_summaries.count_documents({"experiment_id": doomed["id"]}) == 0
    assert_counters_exact(db, kept["id"])
    assert stored_counters(db, kept["id"])


# Rebuild ---------------------------------------------------------------------------------------


def make_history(client, user, experiment, count=40, seed=7, start=datetime(2026, 3, 2, tzinfo=UTC), days=10):
    """`count` runs of assorted models, statuses, tags and results over `days` days; returns them as stored."""
    rng = random.Random(seed)
    runs = []
    for _ in range(count):
        body = run_body(
            model=rng.choice(["alpha", "beta", "gamma"]),
            job_status=rng.choice(["Running", "Completed", "Completed", "Failed"]),
            tags=rng.sample(["prod", "eu", "nightly"], rng.randint(0, 3)),
            drift_detected=rng.random() < 0.3,
            created_at=iso(start + timedelta(seconds=rng.uniform(0, days * 86400))),
        )
        for result in ("concept_drift", "data_drift"):
            if rng.random() < 0.6:
                body[result] = {"drift": rng.random() < 0.4, "parameters": {}}
        response = client.post(drifts_url(experiment), json=body, headers=user.headers)
        assert response.status_code == 201, response.json
        runs.append(response.json)
    return runs


def test_rebuild_recomputes_exactly_the_maintained_counters(client, alice, experiment, make_experiment, db):
    from drift_backend.repositories.summaries import DriftSummaries

    runs = make_history(client, alice, experiment)
    for run in runs[:5]:
        client.delete(drifts_url(experiment, run["id"]), headers=alice.headers)
    maintained = stored_counters(db, experiment["id"])
    other = make_experiment(alice)
    make_history(client, alice, other, count=5, seed=8)
    other_counters = stored_counters(db, other["id"])

    db.drift_summaries.update_many({"experiment_id": experiment["id"]}, {"$set": {"runs": 999, "counts": {}}})
    db.drift_summaries.insert_one({"_id": "stray", "experiment_id": experiment["id"], "runs": 3,
                                   "counts": {"Failed|null|null|false": {"runs": 3}},
                                   "day": datetime(2020, 1, 1, tzinfo=UTC), "model": "stray"})
    DriftSummaries(db).rebuild(experiment["id"])

    assert stored_counters(db, experiment["id"]) == maintained
    assert_counters_exact(db, experiment["id"])
    assert stored_counters(db, other["id"]) == other_counters
    # Rebuilt bounds are exact: the earliest and latest runs that remain.
    remaining = sorted(run["created_at"] for run in runs[5:])
    totals = get_summary(client, experiment, alice)["totals"]
    assert (totals["first_run_at"], totals["last_run_at"]) == (remaining[0], remaining[-1])


def test_rebuild_command_recomputes_one_or_all_experiments(app, client, alice, experiment, make_experiment, db):
    make_history(client, alice, experiment, count=8)
    other = make_experiment(alice)
    make_history(client, alice, other, count=4, seed=3)
    db.drift_summaries.delete_many({})
    runner = app.test_cli_runner()

    one = runner.invoke(args=["rebuild-summaries", "--experiment", experiment["id"]])
    assert one.exit_code == 0, one.output
    assert "experiment" in one.output
    assert_counters_exact(db, experiment["id"])
    assert stored_counters(db, other["id"]) == {}

    every = runner.invoke(args=["rebuild-summaries"])
    assert every.exit_code == 0, every.output
    assert_counters_exact(db, other["id"])
    assert db.meta.find_one({"_id": "drift_summaries"})["state"] == "ready"

    unknown = runner.invoke(args=["rebuild-summaries", "--experiment", "no-such-id"])
    assert unknown.exit_code != 0
    assert "no-such-id" in unknown.output


def _legacy_database(db, runs_per_experiment=(6, 3)):
    """A database written by a version without summaries: experiments and runs, no counters, no meta."""
    now = datetime(2026, 4, 1, 12, tzinfo=UTC)
    ids = []
    for index, count in enumerate(runs_per_experiment):
        experiment_id = str(uuid.uuid4())
        ids.append(experiment_id)
        db.experiments.insert_one({"_id": experiment_id, "name": f"legacy-{index}", "public": True,
                                   "permissions": [], "created_at": now, "updated_at": now})
        db.drifts.insert_many([
            {"_id": str(uuid.uuid4()), "experiment_id": experiment_id, "schema_version": "1.0.0",
             "job_status": ["Completed", "Failed", "Running"][run % 3], "model": f"m{run % 2}", "tags": [],
             "drift_detected": run % 2 == 0, "parameters": {},
             "created_at": now - timedelta(hours=7 * run), "updated_at": now}
            for run in range(count)
        ])
    return ids


def test_the_first_start_builds_the_summaries_of_an_existing_database_once(app_env, db):
    experiment_ids = _legacy_database(db)
    first = create_app(Settings.from_environ(app_env))
    try:
        first.extensions["mongo"].db  # noqa: B018 — first use prepares the database
    finally:
        first.extensions["mongo"].close()

    for experiment_id in experiment_ids:
        assert_counters_exact(db, experiment_id)
    assert db.meta.find_one({"_id": "drift_summaries"})["state"] == "ready"

    # A later start finds the summaries ready and leaves them alone.
    db.drift_summaries.delete_one({"experiment_id": experiment_ids[0]})
    tampered = stored_counters(db, experiment_ids[0])
    assert tampered != counters_of_runs(db, experiment_ids[0])
    second = create_app(Settings.from_environ(app_env))
    try:
        second.extensions["mongo"].db  # noqa: B018
    finally:
        second.extensions["mongo"].close()
    assert stored_counters(db, experiment_ids[0]) == tampered


def test_workers_starting_together_build_the_summaries_once(mongo_uri, database_name, db, monkeypatch):
    experiment_ids = _legacy_database(db)
    builds = []
    original = summaries.DriftSummaries.rebuild

    def slow_rebuild(self, *args, **kwargs):
        builds.append(threading.get_ident())
        time.sleep(0.3)  # long enough for every other worker to find the lock taken
        return original(self, *args, **kwargs)

    monkeypatch.setattr(summaries.DriftSummaries, "rebuild", slow_rebuild)

    def start_worker():
        with pymongo.MongoClient(mongo_uri, tz_aware=True) as mongo:
            summaries.ensure_built(mongo[database_name])

    workers = [threading.Thread(target=start_worker) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(builds) == 1
    for experiment_id in experiment_ids:
        assert_counters_exact(db, experiment_id)


def test_a_build_whose_process_died_is_taken_over(db):
    from drift_backend.repositories import summaries

    [experiment_id] = _legacy_database(db, runs_per_experiment=(4,))
    long_ago = datetime.now(UTC) - summaries.BUILD_STALE_AFTER - timedelta(minutes=1)
    db.meta.insert_one({"_id": "drift_summaries", "version": summaries.META_VERSION, "state": "building",
                        "started_at": long_ago, "heartbeat_at": long_ago})

    summaries.ensure_built(db)

    assert_counters_exact(db, experiment_id)
    assert db.meta.find_one({"_id": "drift_summaries"})["state"] == "ready"


def test_a_build_in_progress_elsewhere_is_left_alone(db):
    from drift_backend.repositories import summaries

    [experiment_id] = _legacy_database(db, runs_per_experiment=(4,))
    now = datetime.now(UTC)
    db.meta.insert_one({"_id": "drift_summaries", "version": summaries.META_VERSION, "state": "building",
                        "started_at": now, "heartbeat_at": now})

    summaries.ensure_built(db)

    assert stored_counters(db, experiment_id) == {}
    assert db.meta.find_one({"_id": "drift_summaries"})["state"] == "building"


# GET /drift/summary ----------------------------------------------------------------------------


def test_summary_counts_runs_per_day_and_model(client, alice, experiment):
    runs = make_history(client, alice, experiment)

    summary = get_summary(client, experiment, alice, interval="day")

    assert summary["source"] == "summaries"
    assert summary["interval"] == "day"
    assert summary["since"] is None and summary["until"] is None
    assert summary["buckets"] == expected_buckets(runs, "day")
    totals = summary["totals"]
    assert {name: totals[name] for name in COUNTS} == counts_of(runs)
    completed = [run for run in runs if run["job_status"] == "Completed"]
    assert totals["drift_rate"] == pytest.approx(sum(run["drift_detected"] for run in completed) / len(completed))
    assert totals["first_run_at"] == min(run["created_at"] for run in runs)
    assert totals["last_run_at"] == max(run["created_at"] for run in runs)
    assert summary["models"] == sorted({run["model"] for run in runs})


FILTERS = [
    {"model": ["alpha"]},
    {"model": ["alpha", "gamma"]},
    {"job_status": ["Completed", "Failed"]},
    {"detected": True},
    {"detected": False},
    {"drift_type": "concept"},
    {"drift_type": "data", "detected": True},
    {"drift_type": "concept", "detected": False},
    {"model": ["beta"], "job_status": ["Completed"], "drift_type": "data"},
    {"since": "2026-03-04T13:30:00Z", "until": "2026-03-08T02:00:00+01:00"},
    {"since": "2026-03-06"},
    {"until": "2026-03-05"},
]


@pytest.mark.parametrize("filters", FILTERS, ids=[str(sorted(f.items())) for f in FILTERS])
def test_summary_filters_select_the_same_runs_as_the_runs_say(client, alice, experiment, filters):
    runs = make_history(client, alice, experiment)
    params = {key: (str(value).lower() if isinstance(value, bool) else value) for key, value in filters.items()}

    summary = get_summary(client, experiment, alice, interval="day", **params)

    # Summaries count whole UTC days: the expected window is widened the same way.
    since = until = None
    if "since" in filters:
        since = day_floor(parse_moment(filters["since"]))
        assert summary["since"] == iso(since)
    if "until" in filters:
        moment = parse_moment(filters["until"])
        until = day_floor(moment) if day_floor(moment) == moment else day_floor(moment) + timedelta(days=1)
        assert summary["until"] == iso(until)
    expected = [run for run in runs if selected(run, **{**filters, "since": since, "until": until})]
    assert expected, "the filter should select some runs"
    assert summary["buckets"] == expected_buckets(expected, "day")
    assert {name: summary["totals"][name] for name in COUNTS} == counts_of(expected)
    assert summary["models"] == sorted({run["model"] for run in runs})  # all models, whatever the filter


def test_a_tag_filter_computes_the_same_summary_from_the_runs(client, alice, experiment):
    runs = make_history(client, alice, experiment)
    for filters in ({}, {"model": ["alpha", "beta"], "drift_type": "data"}, {"since": "2026-03-05"}):
        from_summaries = get_summary(client, experiment, alice, **filters)
        tagged = get_summary(client, experiment, alice, tag=["prod"], **filters)
        assert from_summaries["source"] == "summaries" and tagged["source"] == "runs"

        window = {"since": parse_moment(filters["since"])} if "since" in filters else {}
        prod = [run for run in runs if selected(run, **{**filters, **window, "tag": ["prod"]})]
        assert tagged["buckets"] == expected_buckets(prod, tagged["interval"])
        assert {name: tagged["totals"][name] for name in COUNTS} == counts_of(prod)
        assert tagged["models"] == from_summaries["models"]

    # Runs all sharing one tag: both sources must agree on every number.
    everywhere = [client.patch(drifts_url(experiment, run["id"]), json={"tags": [*run["tags"], "all"]},
                               headers=alice.headers).json for run in runs]
    assert len(everywhere) == len(runs)
    plain = get_summary(client, experiment, alice, job_status=["Completed", "Running"])
    via_runs = get_summary(client, experiment, alice, job_status=["Completed", "Running"], tag=["all"])
    assert {**via_runs, "source": "summaries"} == plain


def test_tags_must_all_be_present(client, alice, experiment, make_run):
    make_run(alice, experiment, tags=["prod", "eu"])
    make_run(alice, experiment, tags=["prod"])

    assert get_summary(client, experiment, alice, tag=["prod"])["totals"]["runs"] == 2
    assert get_summary(client, experiment, alice, tag=["prod", "eu"])["totals"]["runs"] == 1
    assert get_summary(client, experiment, alice, tag=["none"])["buckets"] == []


@pytest.mark.parametrize("since, until, interval", [
    ("2026-01-01", "2026-04-30", "day"),          # 119 days
    ("2026-01-01", "2026-05-02", "week"),         # 121 days
    ("2024-01-01", "2026-04-30", "month"),        # 122 ISO weeks
])
def test_auto_interval_is_the_smallest_with_at_most_120_buckets(client, alice, experiment, make_run,
                                                                since, until, interval):
    make_run(alice, experiment, created_at="2026-02-18T10:00:00Z")
    make_run(alice, experiment, created_at="2026-02-20T10:00:00Z")

    summary = get_summary(client, experiment, alice, since=since, until=until)

    assert summary["interval"] == interval
    expected_start = bucket_start(date(2026, 2, 18), interval)
    starts = [bucket["start"] for bucket in summary["buckets"]]
    assert starts[0] == f"{expected_start.isoformat()}T00:00:00.000Z"
    assert sum(bucket["runs"] for bucket in summary["buckets"]) == 2


def test_auto_interval_without_a_window_follows_the_data(client, alice, experiment, make_run):
    make_run(alice, experiment, created_at="2025-06-01T00:00:00Z")
    make_run(alice, experiment, created_at="2025-11-30T00:00:00Z")

    summary = get_summary(client, experiment, alice)

    assert summary["interval"] == "week"  # 183 days, 27 weeks
    assert [bucket["start"] for bucket in summary["buckets"]] == ["2025-05-26T00:00:00.000Z",
                                                                 "2025-11-24T00:00:00.000Z"]


@pytest.mark.parametrize("interval", ["week", "month"])
def test_explicit_intervals_bucket_by_iso_week_and_calendar_month(client, alice, experiment, interval):
    runs = make_history(client, alice, experiment, count=30, start=datetime(2026, 1, 20, tzinfo=UTC), days=50)

    summary = get_summary(client, experiment, alice, interval=interval)

    assert summary["interval"] == interval
    assert summary["buckets"] == expected_buckets(runs, interval)


def test_drift_rate_is_null_without_completed_runs(client, alice, experiment, make_run):
    assert get_summary(client, experiment, alice)["totals"] == {
        **dict.fromkeys(COUNTS, 0), "drift_rate": None, "first_run_at": None, "last_run_at": None, "stuck": 0}

    make_run(alice, experiment, drift_detected=True)
    assert get_summary(client, experiment, alice)["totals"]["drift_rate"] is None

    make_run(alice, experiment, job_status="Completed", drift_detected=True)
    make_run(alice, experiment, job_status="Completed")
    make_run(alice, experiment, job_status="Completed")
    assert get_summary(client, experiment, alice)["totals"]["drift_rate"] == pytest.approx(1 / 3)


def test_stuck_runs_are_the_oldest_still_running(client, alice, experiment, make_run):
    now = datetime.now(UTC)
    stuck = [make_run(alice, experiment, model=f"m{index % 2}", created_at=iso(now - timedelta(hours=7, minutes=index)))
             for index in range(22)]
    make_run(alice, experiment, created_at=iso(now - timedelta(hours=1)))                        # recent
    make_run(alice, experiment, job_status="Completed", created_at=iso(now - timedelta(days=3)))  # finished

    summary = get_summary(client, experiment, alice)

    oldest_first = sorted(stuck, key=lambda run: run["created_at"])
    assert summary["totals"]["stuck"] == 22
    assert summary["stuck_runs"] == [{"id": run["id"], "model": run["model"], "created_at": run["created_at"]}
                                     for run in oldest_first[:20]]
    assert get_summary(client, experiment, alice, stuck_after_minutes=8 * 60)["totals"]["stuck"] == 0
    assert get_summary(client, experiment, alice, stuck_after_minutes=30)["totals"]["stuck"] == 23
    by_model = get_summary(client, experiment, alice, model=["m1"], job_status=["Completed"])
    assert by_model["totals"]["stuck"] == 11  # the model filter applies, the others do not
    assert {run["model"] for run in by_model["stuck_runs"]} == {"m1"}


def test_summary_is_read_with_the_experiments_permissions(client, alice, make_user, make_experiment, make_run):
    private, public = make_experiment(alice), make_experiment(alice, public=True)
    bob = make_user()
    reader = make_user()
    shared = make_experiment(alice, permissions=[{"entity": reader.id, "level": "Read"}])
    for experiment in (private, public, shared):
        make_run(alice, experiment)

    def status(experiment, user=None):
        return client.get(drifts_url(experiment, "summary"), headers=user.headers if user else {}).status_code

    assert status(private, bob) == 404
    assert status(private) == 404
    assert status(public) == 200
    assert status(public, bob) == 200
    assert status(shared, reader) == 200
    assert status({"id": str(uuid.uuid4())}, alice) == 404
    assert get_summary(client, public)["totals"]["runs"] == 1


# POST /experiment/search?with_stats=true -------------------------------------------------------


def test_experiment_search_with_stats(client, alice, make_experiment):
    busy, idle = make_experiment(alice, name=f"busy-{uuid.uuid4().hex[:6]}"), make_experiment(alice)
    runs = make_history(client, alice, busy, count=12)

    plain = client.post(f"{API}/experiment/search", json={}, headers=alice.headers).json
    assert all("stats" not in experiment for experiment in plain)

    found = client.post(f"{API}/experiment/search?with_stats=true", json={}, headers=alice.headers).json
    stats = {experiment["id"]: experiment["stats"] for experiment in found}
    completed = [run for run in runs if run["job_status"] == "Completed"]
    assert stats[busy["id"]] == {
        **{name: counts_of(runs)[name] for name in ("runs", "completed", "running", "failed", "drift_detected")},
        "drift_rate": pytest.approx(sum(run["drift_detected"] for run in completed) / len(completed)),
        "last_run_at": max(run["created_at"] for run in runs),
    }
    assert stats[idle["id"]] == {"runs": 0, "completed": 0, "running": 0, "failed": 0, "drift_detected": 0,
                                 "drift_rate": None, "last_run_at": None}
