"""The demo data of `make run`, loaded through a real backend (gunicorn) as a dashboard would see it."""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timedelta

import pytest
import requests

from sandbox.backend import start_backend
from sandbox.demo_data import DEMO_EXPERIMENT_NAMES, DEMO_USERS, TEAM_B, load_demo_data

API = "/api/v1"
TIMEOUT = 15
PUBLIC = {"credit-scoring", "image-quality"}


def search_experiments(base_url: str, token: str | None = None) -> dict[str, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.post(f"{base_url}{API}/experiment/search", params={"page_size": 100}, json={},
                             headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return {experiment["name"]: experiment for experiment in response.json()}


def search_runs(base_url: str, experiment_id: str, token: str | None, body: dict | None = None,
                page_size: int = 100) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{base_url}{API}/experiment/{experiment_id}/drift/search",
                         params={"page_size": page_size}, json=body or {}, headers=headers, timeout=TIMEOUT)


def total(response: requests.Response) -> int:
    assert response.status_code == 200, response.text
    return json.loads(response.headers["X-Pagination"])["total"]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def stack(app_env, idp):
    with start_backend(app_env) as base_url:
        tokens = {username: idp.user_token(username) for username in DEMO_USERS}
        yield base_url, tokens


def test_demo_data_gives_a_dashboard_something_to_show(stack, db):
    base_url, tokens = stack
    summary = load_demo_data(base_url, tokens)

    assert not summary.skipped
    assert summary.experiments_created == 4
    assert set(summary.experiments) == set(DEMO_EXPERIMENT_NAMES)
    assert 200 <= summary.total_runs <= 600
    assert summary.runs_created == summary.total_runs == db.drifts.count_documents({})
    assert db.users.count_documents({}) == len(DEMO_USERS)

    # Who sees what.
    users = summary.users
    assert set(search_experiments(base_url)) == PUBLIC  # anonymous
    assert set(search_experiments(base_url, tokens["alice"])) == set(DEMO_EXPERIMENT_NAMES)
    assert set(search_experiments(base_url, tokens["bob"])) == PUBLIC | {"churn-weekly"}
    assert set(search_experiments(base_url, tokens["carol"])) == PUBLIC
    experiments = search_experiments(base_url, tokens["admin"])
    assert {name: experiment["public"] for name, experiment in experiments.items()} == {
        "credit-scoring": True, "churn-weekly": False, "fraud-realtime": False, "image-quality": True}
    permissions = {name: {(p["entity"], p["level"]) for p in experiment["permissions"]}
                   for name, experiment in experiments.items()}
    assert permissions == {
        "credit-scoring": {(users["alice"], "Manage"), (TEAM_B, "Read")},
        "churn-weekly": {(users["bob"], "Manage"), (users["alice"], "Edit")},
        "fraud-realtime": {(users["alice"], "Manage")},
        "image-quality": {(users["carol"], "Manage")},
    }

    # Run counts as the API pages them, for those allowed to read.
    for name, experiment in experiments.items():
        count = summary.runs[name]
        assert count == db.drifts.count_documents({"experiment_id": experiment["id"]}) >= 20
        assert total(search_runs(base_url, experiment["id"], tokens["admin"], page_size=1)) == count
    credit, fraud = experiments["credit-scoring"]["id"], experiments["fraud-realtime"]["id"]
    assert total(search_runs(base_url, credit, None, page_size=1)) == summary.runs["credit-scoring"]
    assert search_runs(base_url, fraud, None).status_code == 404
    assert search_runs(base_url, fraud, tokens["carol"]).status_code == 404
    assert total(search_runs(base_url, fraud, tokens["alice"], {"job_status": "Failed"})) >= 1
    assert total(search_runs(base_url, credit, tokens["carol"], {"data_drift.drift": True})) >= 5

    # Runs look like detector output: both result kinds, drifting and not, every job status.
    runs = list(db.drifts.find({}))
    statuses = {run["job_status"] for run in runs}
    assert statuses == {"Completed", "Failed", "Running"}
    assert 1 <= sum(run["job_status"] == "Running" for run in runs) <= 6
    assert sum(run["job_status"] == "Completed" for run in runs) > 0.85 * len(runs)
    assert any("concept_drift" in run for run in runs)
    assert any(run["concept_drift"]["drift"] for run in runs if "concept_drift" in run)
    assert any(run["drift_detected"] for run in runs) and not all(run["drift_detected"] for run in runs)
    for run in runs:
        assert run["tags"] and run["model"]
        window = (parse_time(run["parameters"]["window_start"]), parse_time(run["parameters"]["window_end"]))
        assert window[0] < window[1]
        if run["job_status"] != "Completed":
            assert "data_drift" not in run and not run["drift_detected"]
            continue
        data = run["data_drift"]["parameters"]
        assert data["correction"] == "benjamini-hochberg"
        assert data["n_features"] == len(data["features"]) >= 6
        assert data["drift_share"] == pytest.approx(
            sum(feature["drifted"] for feature in data["features"].values()) / data["n_features"], abs=1e-4)
        for feature in data["features"].values():
            assert feature["test"] in ("ks", "psi", "chi2")
            assert ("p_value" in feature) == (feature["test"] != "psi")
        if "concept_drift" in run:
            concept = run["concept_drift"]["parameters"]
            assert concept["metric"] == "accuracy"
            assert concept["ci_low"] <= concept["delta"] <= concept["ci_high"]
            assert concept["delta"] == pytest.approx(concept["current"] - concept["reference"], abs=1e-3)
        assert run["drift_detected"] == (run["data_drift"]["drift"] or run.get("concept_drift", {}).get("drift", False))

    for name, experiment in experiments.items():
        own = [run for run in runs if run["experiment_id"] == experiment["id"]]
        assert len({run["model"] for run in own}) >= 2, name
        starts = [parse_time(run["parameters"]["window_start"]) for run in own]
        ends = [parse_time(run["parameters"]["window_end"]) for run in own]
        assert timedelta(days=55) <= max(ends) - min(starts) <= timedelta(days=61), name
        assert max(ends) <= parse_time(experiment["created_at"])
        # Each run is dated at the end of its window, so the history spreads over two months.
        assert all(run["created_at"] == parse_time(run["parameters"]["window_end"]) for run in own), name

    # The story: input drift in credit-scoring rises over the two months.
    daily = sorted((run for run in runs if run["experiment_id"] == credit and run["model"].startswith("xgb")
                    and run["job_status"] == "Completed"), key=lambda run: run["parameters"]["window_end"])
    shares = [run["data_drift"]["parameters"]["drift_share"] for run in daily]
    assert statistics.mean(shares[-10:]) >= statistics.mean(shares[:10]) + 0.3
    assert not any(run["data_drift"]["drift"] for run in daily[:10])
    assert all(run["data_drift"]["drift"] for run in daily[-5:])


def test_loading_again_adds_nothing_and_completes_an_interrupted_load(stack, db):
    base_url, tokens = stack
    first = load_demo_data(base_url, tokens)
    ids = {run["_id"] for run in db.drifts.find({}, {"_id": 1})}
    experiments = {e["_id"]: e["updated_at"] for e in db.experiments.find({})}

    again = load_demo_data(base_url, tokens)
    assert again.skipped and again.runs_created == 0 and again.experiments_created == 0
    assert again.experiments == first.experiments and again.runs == first.runs
    assert {run["_id"] for run in db.drifts.find({}, {"_id": 1})} == ids
    assert {e["_id"]: e["updated_at"] for e in db.experiments.find({})} == experiments

    # An interrupted load: some runs never arrived, and one that did was changed since.
    fraud = first.experiments["fraud-realtime"]
    lost = [run["_id"] for run in db.drifts.find({"experiment_id": fraud}).sort("_id", 1).limit(3)]
    db.drifts.delete_many({"_id": {"$in": lost}})
    changed = db.drifts.find_one({"experiment_id": fraud, "_id": {"$nin": lost}, "job_status": "Completed"})
    response = requests.patch(f"{base_url}{API}/experiment/{fraud}/drift/{changed['_id']}", json={"tags": ["reviewed"]},
                              headers={"Authorization": f"Bearer {tokens['alice']}"}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text

    completed = load_demo_data(base_url, tokens)
    assert not completed.skipped
    assert completed.runs_created == 3 and completed.experiments_created == 0
    assert completed.runs == first.runs
    assert {run["_id"] for run in db.drifts.find({}, {"_id": 1})} == ids
    assert db.drifts.find_one({"_id": changed["_id"]})["tags"] == ["reviewed"]
