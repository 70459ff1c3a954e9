"""Deferred counter writes (APP_SUMMARY_DELAY_MS): merged, written on a timer, and before any read of the process."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from drift_backend.repositories import summaries
from factories import drifts_url, run_body


@pytest.fixture
def delay_ms():
    return 5000


@pytest.fixture
def app_env(app_env, delay_ms):
    return {**app_env, "APP_SUMMARY_DELAY_MS": str(delay_ms)}


def counted_runs(db, experiment) -> int:
    return sum(document.get("runs", 0) for document in db.drift_summaries.find({"experiment_id": experiment["id"]}))


def report(client, user, experiment, **fields):
    response = client.post(drifts_url(experiment), json=run_body(**fields), headers=user.headers)
    assert response.status_code == 201, response.json
    return response.json


def test_a_write_does_not_wait_for_its_counters_but_a_read_sees_them(client, alice, experiment, db):
    report(client, alice, experiment)
    assert counted_runs(db, experiment) == 0  # still waiting to be merged with others

    summary = client.get(drifts_url(experiment, "summary"), headers=alice.headers).json

    assert summary["totals"]["runs"] == 1
    assert counted_runs(db, experiment) == 1


@pytest.mark.parametrize("delay_ms", [200])
def test_waiting_changes_are_written_after_the_delay(client, alice, experiment, db):
    report(client, alice, experiment)

    deadline = time.monotonic() + 10
    while counted_runs(db, experiment) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert counted_runs(db, experiment) == 1


def test_concurrent_reports_are_each_counted_once(app, alice, experiment, db):
    def report_and_finish(index):
        with app.test_client() as client:
            run = report(client, alice, experiment, model=f"model-{index % 3}")
            finished = {**run_body(model=run["model"]), "job_status": "Completed",
                        "data_drift": {"drift": index % 2 == 0, "parameters": {"drift_share": index / 100}}}
            response = client.put(drifts_url(experiment, run["id"]), json=finished,
                                  headers=alice.headers)
            assert response.status_code == 200, response.json

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(report_and_finish, range(36)))
    summaries.flush_all()

    documents = list(db.drift_summaries.find({"experiment_id": experiment["id"]}))
    assert sum(document["runs"] for document in documents) == 36
    assert sum(document["completed"] for document in documents) == 36
    assert sum(document.get("running", 0) for document in documents) == 0
    assert sum(document["drift_detected"] for document in documents) == 18


def test_a_failed_deferred_write_is_kept_and_written_later(client, alice, experiment, db, monkeypatch):
    real_write = summaries._write_counter_updates
    failures = []

    def fail_once(collection, changes):
        if not failures:
            failures.append(len(changes))
            raise summaries.pymongo.errors.AutoReconnect("the database went away")
        real_write(collection, changes)

    monkeypatch.setattr(summaries, "_write_counter_updates", fail_once)
    report(client, alice, experiment)  # answered 201: its counter change is deferred
    summary_url = drifts_url(experiment, "summary")

    assert client.get(summary_url, headers=alice.headers).status_code == 503  # the read's flush failed
    summary = client.get(summary_url, headers=alice.headers).json

    assert failures == [1]
    assert summary["totals"]["runs"] == 1
    assert counted_runs(db, experiment) == 1
