"""Deferred counter writes (APP_SUMMARY_DELAY_MS): merged, written on a timer, and before any read of the process.

The app's writer is `app.extensions["summary_writer"]`; a test that needs a failing database write gives
its own app a writer with another `write` (create_app(..., summary_writer=...)).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pymongo
import pytest

from drift_backend import create_app
from drift_backend.repositories.summaries import SummaryWriter, write_counter_updates
from drift_backend.settings import Settings
from factories import API, drifts_url, run_body
from sandbox.backend import BackendServer


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


def test_the_app_writer_follows_the_delay_setting(app, delay_ms):
    writer = app.extensions["summary_writer"]

    assert isinstance(writer, SummaryWriter)
    assert writer.delay_seconds == delay_ms / 1000


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
    app.extensions["summary_writer"].flush()

    documents = list(db.drift_summaries.find({"experiment_id": experiment["id"]}))
    assert sum(document["runs"] for document in documents) == 36
    assert sum(document["completed"] for document in documents) == 36
    assert sum(document.get("running", 0) for document in documents) == 0
    assert sum(document["drift_detected"] for document in documents) == 18


def test_a_failed_deferred_write_is_kept_and_written_later(app_env, alice, experiment, db):
    failures = []

    def fail_once(collection, changes):
        if not failures:
            failures.append(len(changes))
            raise pymongo.errors.AutoReconnect("the database went away")
        write_counter_updates(collection, changes)

    # An app of the same database whose writer's first database write fails.
    flaky = create_app(Settings.from_environ(app_env), summary_writer=SummaryWriter(5.0, write=fail_once))
    client = flaky.test_client()
    try:
        report(client, alice, experiment)  # answered 201: its counter change is deferred
        summary_url = drifts_url(experiment, "summary")

        assert client.get(summary_url, headers=alice.headers).status_code == 503  # the read's flush failed
        summary = client.get(summary_url, headers=alice.headers).json
    finally:
        flaky.extensions["mongo"].close()

    assert failures == [1]
    assert summary["totals"]["runs"] == 1
    assert counted_runs(db, experiment) == 1


def test_deleting_an_experiment_leaves_no_waiting_change_to_recreate_its_counters(app, client, alice, experiment, db):
    report(client, alice, experiment)  # waiting in the app's writer

    assert client.delete(f"{API}/experiment/{experiment['id']}", headers=alice.headers).status_code == 204
    app.extensions["summary_writer"].flush()

    assert db.drift_summaries.count_documents({"experiment_id": experiment["id"]}) == 0


@pytest.mark.parametrize("delay_ms", [600_000])
def test_a_gunicorn_worker_writes_its_waiting_changes_when_it_stops(app_env, alice, experiment, db):
    server = BackendServer(app_env, workers=1, threads=2).start()
    try:
        response = httpx.post(server.base_url + drifts_url(experiment), json=run_body(), headers=alice.headers,
                              timeout=30)
        assert response.status_code == 201, response.text
        assert counted_runs(db, experiment) == 0  # waiting: the delay is ten minutes
    finally:
        server.stop()  # SIGTERM: gunicorn's worker_exit closes the app's client, which flushes its writer

    assert counted_runs(db, experiment) == 1
