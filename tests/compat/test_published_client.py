"""The published drift-monitor 1.1.1 client, unchanged, against this server.

The client runs in a venv of its own (see conftest.py) as a child process, as a user's job would:
it reads DRIFT_MONITOR_URL, DRIFT_MONITOR_MYTOKEN and MYTOKEN_SERVER, exchanges the sandbox
mytoken of alice at the sandbox MyToken endpoint, and talks to the backend served by gunicorn.
client_scenario.py drives it; this test then checks what the server really stored (MongoDB) and
what its API answers, besides what the client itself saw.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from sandbox.backend import start_backend

pytestmark = [pytest.mark.network, pytest.mark.timeout(900)]  # the first run downloads the client

API = "/api/v1"
SCENARIO = Path(__file__).with_name("client_scenario.py")
SCENARIO_TIMEOUT_SECONDS = 120
USERNAME = "alice"


@pytest.fixture
def backend(app_env, tmp_path):
    log = tmp_path / "backend.log"
    with start_backend(app_env, log_path=log) as base_url:
        yield base_url, log


@pytest.fixture
def client_run(published_client, client_base_env, backend, idp) -> dict:
    """Run the scenario with the published client; return its JSON summary.

    A scenario that breaks leaves `failure` set, for the test to fail on (a failure, not a setup error).
    """
    base_url, log = backend
    name = f"compat-{uuid.uuid4().hex[:8]}"
    env = {**client_base_env, "DRIFT_MONITOR_URL": base_url, "DRIFT_MONITOR_MYTOKEN": idp.mytoken(USERNAME),
           "MYTOKEN_SERVER": idp.issuer}
    # cwd outside the repository: the client must not import anything of ours.
    result = subprocess.run([str(published_client.python), str(SCENARIO), name], capture_output=True, text=True,
                            env=env, cwd=published_client.path, timeout=SCENARIO_TIMEOUT_SECONDS)
    backend_log = log.read_text(errors="replace")[-3000:]
    lines = result.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1])
    except (IndexError, ValueError):
        summary = {"failure": f"the client scenario printed no summary (exit {result.returncode}):\n"
                              f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-5000:]}\n"
                              f"backend log:\n{backend_log}"}
        return summary
    summary["failure"] = None
    if result.returncode != 0 or summary["error"]:
        error = summary["error"] or {}
        summary["failure"] = (
            f"the published client raised after step {error.get('last_completed_step')!r}: "
            f"{error.get('type')}: {error.get('message')}\n"
            f"response body: {error.get('response_body')}\n{error.get('traceback')}\n"
            f"HTTP exchanges:\n{_format_transcript(summary['transcript'])}\n"
            f"stderr:\n{result.stderr[-3000:]}\nbackend log:\n{backend_log}")
    summary["experiment_name"] = name
    summary["base_url"] = base_url
    return summary


def test_published_client_workflow(client_run, published_client, db, idp):
    """drift-monitor 1.1.1's whole workflow works, and the server stores exactly what it sent.

    All areas are checked, then every failed one is reported together.
    """
    if client_run["failure"]:
        pytest.fail(client_run["failure"], pytrace=False)
    assert client_run["client_version"] == "1.1.1"
    alice = idp.users[USERNAME]
    checks = [
        ("user registration and refresh", lambda: _check_user(client_run, db, idp, alice)),
        ("MyToken exchange and entitlements", lambda: _check_token_and_entitlements(client_run, idp, alice)),
        ("experiment", lambda: _check_experiment(client_run, db)),
        ("drift runs", lambda: _check_runs(client_run, db)),
        ("deletions", lambda: _check_deletions(client_run, db)),
        ("API view of the stored data", lambda: _check_api(client_run, db, idp)),
    ]
    failures = []
    for area, check in checks:
        try:
            check()
        except AssertionError as error:
            failures.append(f"--- {area} ---\n{error}")
    assert not failures, (f"published client {published_client.versions} — incompatibilities:\n"
                          + "\n".join(failures) + f"\nHTTP exchanges:\n{_format_transcript(client_run['transcript'])}")


# --- checks, one area each -------------------------------------------------------------------


def _check_user(run: dict, db, idp, alice: dict) -> None:
    users = list(db.users.find())
    assert len(users) == 1, users
    user = users[0]
    assert (user["issuer"], user["subject"], user["email"]) == (idp.issuer, alice["sub"], alice["email"])
    _assert_timestamps(user)
    assert run["steps"]["self_user"]["id"] == user["_id"]
    assert run["steps"]["self_user"]["email"] == alice["email"]
    # The second register() met 409 and fell back to PUT /user/self.
    assert _contains_in_order(_backend_calls(run), [
        ("POST", f"{API}/user", 201), ("POST", f"{API}/user", 409), ("PUT", f"{API}/user/self", 200)])


def _check_token_and_entitlements(run: dict, idp, alice: dict) -> None:
    claims = run["steps"]["token_claims"]
    assert claims["iss"] == idp.issuer and claims["sub"] == alice["sub"]
    assert isinstance(claims["exp"], int) and claims["exp"] > datetime.now(timezone.utc).timestamp()
    provider_calls = [(call["method"], call["path"], call["status"]) for call in run["transcript"]
                      if call["service"] == "idp"]
    assert provider_calls[:2] == [("GET", "/.well-known/mytoken-configuration", 200),
                                  ("POST", "/api/v0/token/access", 200)], provider_calls
    assert run["steps"]["entitlements"] == sorted(alice["entitlements"])
    assert ("GET", f"{API}/entitlements", 200) in _backend_calls(run)


def _check_experiment(run: dict, db) -> None:
    steps = run["steps"]
    user_id = steps["self_user"]["id"]
    experiments = list(db.experiments.find())
    assert len(experiments) == 1, experiments  # the scratch experiment is gone
    experiment = experiments[0]
    assert experiment["name"] == run["experiment_name"]
    assert experiment["public"] is False
    assert experiment["permissions"] == [{"entity": user_id, "level": "Manage"}]
    assert experiment["description"] == "changed by the published client"  # put_experiment round trip
    assert "deleting" not in experiment
    _assert_timestamps(experiment)

    created = steps["new_experiment"]
    assert created["id"] == experiment["_id"]
    assert (created["name"], created["description"], created["public"]) == (run["experiment_name"], "desc", False)
    assert created["permissions"] == [{"entity": user_id, "level": "Manage"}]
    assert created["created_at"] == _api_time(experiment["created_at"])

    assert steps["duplicate_experiment"] == {"raised": "ValueError", "message": "Experiment already exists.",
                                             "status": 409}
    assert steps["find_experiment"]["id"] == experiment["_id"]
    assert steps["search_experiment"]["names"] == [run["experiment_name"]]
    assert json.loads(steps["search_experiment"]["x_pagination"])["total"] == 1

    fetched, written = steps["get_experiment"], steps["put_experiment"]
    assert (fetched["id"], fetched["description"]) == (experiment["_id"], "desc")
    assert written["id"] == experiment["_id"]
    assert written["description"] == "changed by the published client"
    assert written["permissions"] == [{"entity": user_id, "level": "Manage"}]
    assert ("PUT", f"{API}/experiment/{experiment['_id']}", 200) in _backend_calls(run)


def _check_runs(run: dict, db) -> None:
    steps = run["steps"]
    experiment_id = steps["new_experiment"]["id"]
    stored = {doc["job_status"]: doc for doc in db.drifts.find({"experiment_id": experiment_id})}
    assert db.drifts.count_documents({"experiment_id": experiment_id}) == 2
    assert sorted(stored) == ["Completed", "Failed"]

    completed = stored["Completed"]
    assert completed["_id"] == steps["completed_run"]["id"]
    assert (completed["model"], completed["tags"], completed["drift_detected"]) == ("model_1", ["compat"], True)
    # numpy values arrive as plain JSON numbers: a float stays a float, integers stay integers.
    assert completed["parameters"] == {"p_value": 0.01, "arr": [1, 2]}
    assert type(completed["parameters"]["p_value"]) is float
    assert [type(value) for value in completed["parameters"]["arr"]] == [int, int]
    assert isinstance(completed.get("schema_version"), str)
    assert "concept_drift" not in completed and "data_drift" not in completed
    _assert_timestamps(completed)
    assert completed["updated_at"] >= completed["created_at"]

    failed = stored["Failed"]
    assert steps["failed_run"]["propagated"] is True, "the detector's exception must leave the with block"
    assert steps["failed_run"]["message"] == "detector crashed"
    assert failed["_id"] == steps["failed_run"]["drift"]["id"]
    assert (failed["model"], failed["tags"], failed["drift_detected"]) == ("model_1", ["compat", "failure"], False)
    assert failed["parameters"] == {"statistic": 0.5, "nested": {"n": 3}, "flags": [True, False]}
    assert [type(flag) for flag in failed["parameters"]["flags"]] == [bool, bool]
    _assert_timestamps(failed)

    # What the client saw of them: each run was created Running, then PUT to its final status.
    calls = _backend_calls(run)
    for doc in (completed, failed):
        assert _contains_in_order(calls, [("POST", f"{API}/experiment/{experiment_id}/drift", 201),
                                          ("PUT", f"{API}/experiment/{experiment_id}/drift/{doc['_id']}", 200)])
    assert steps["completed_run"]["job_status"] == "Completed"
    assert steps["completed_run"]["parameters"] == {"p_value": 0.01, "arr": [1, 2]}
    assert steps["failed_run"]["drift"]["job_status"] == "Failed"

    found = steps["search_drift"]
    assert sorted(item["id"] for item in found["runs"]) == sorted(doc["_id"] for doc in stored.values())
    assert json.loads(found["x_pagination"])["total"] == 2
    assert steps["search_drift_failed"]["ids"] == [failed["_id"]]
    page_2 = steps["search_drift_page_2"]
    assert len(page_2["ids"]) == 1 and page_2["ids"][0] in {doc["_id"] for doc in stored.values()}
    pagination = json.loads(page_2["x_pagination"])
    assert (pagination["total"], pagination["page"], pagination["total_pages"]) == (2, 2, 2)
    assert steps["get_drift"]["id"] == completed["_id"]
    assert steps["get_drift"]["parameters"] == completed["parameters"]


def _check_deletions(run: dict, db) -> None:
    deletions = run["steps"]["deletions"]
    assert deletions["runs_after_delete_drift"] == 0
    assert deletions["get_after_delete_experiment"] == 404
    assert db.experiments.count_documents({"_id": deletions["experiment_id"]}) == 0
    assert db.drifts.count_documents({"experiment_id": deletions["experiment_id"]}) == 0
    calls = _backend_calls(run)
    experiment_path = f"{API}/experiment/{deletions['experiment_id']}"
    assert ("DELETE", f"{experiment_path}/drift/{deletions['run_id']}", 204) in calls
    assert ("DELETE", experiment_path, 204) in calls


def _check_api(run: dict, db, idp) -> None:
    """The same data read back through the API by alice, with a fresh token."""
    base_url = run["base_url"]
    headers = {"Authorization": f"Bearer {idp.user_token(USERNAME)}"}
    experiment_id = run["steps"]["new_experiment"]["id"]
    user_id = run["steps"]["self_user"]["id"]

    response = requests.get(f"{base_url}{API}/user/self", headers=headers, timeout=10)
    assert response.status_code == 200 and response.json()["id"] == user_id, response.text

    response = requests.post(f"{base_url}{API}/experiment/search", json={}, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert "X-Pagination" in response.headers
    assert [item["id"] for item in response.json()] == [experiment_id]

    response = requests.get(f"{base_url}{API}/experiment/{experiment_id}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    experiment = response.json()
    assert experiment["permissions"] == [{"entity": user_id, "level": "Manage"}]
    stored = db.experiments.find_one({"_id": experiment_id})
    assert (experiment["created_at"], experiment["updated_at"]) == (_api_time(stored["created_at"]),
                                                                   _api_time(stored["updated_at"]))

    response = requests.post(f"{base_url}{API}/experiment/{experiment_id}/drift/search",
                             params={"page": 1, "page_size": 10}, json={}, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert "X-Pagination" in response.headers
    assert json.loads(response.headers["X-Pagination"])["total"] == 2
    by_status = {item["job_status"]: item for item in response.json()}
    assert sorted(by_status) == ["Completed", "Failed"]
    assert by_status["Completed"]["parameters"] == {"p_value": 0.01, "arr": [1, 2]}
    assert by_status["Completed"]["tags"] == ["compat"] and by_status["Completed"]["drift_detected"] is True
    for item in by_status.values():
        assert item["created_at"].endswith("Z") and item["updated_at"].endswith("Z"), item


# --- helpers ---------------------------------------------------------------------------------


def _backend_calls(run: dict) -> list[tuple[str, str, int]]:
    return [(call["method"], call["path"], call["status"]) for call in run["transcript"]
            if call["service"] == "backend"]


def _contains_in_order(calls: list, expected: list) -> bool:
    """Whether `expected` occurs in `calls` as consecutive entries."""
    width = len(expected)
    return any(calls[start:start + width] == expected for start in range(len(calls) - width + 1))


def _assert_timestamps(document: dict) -> None:
    now = datetime.now(timezone.utc)
    for field in ("created_at", "updated_at"):
        value = document.get(field)
        assert isinstance(value, datetime), f"{field} = {value!r} in {document}"
        assert now - timedelta(minutes=10) < value <= now + timedelta(seconds=5), f"{field} = {value!r}"
    assert document["created_at"] <= document["updated_at"], document


def _api_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _format_transcript(transcript: list[dict]) -> str:
    return "\n".join(f"  {call['method']:6} {call['service']:7} {call['path']}"
                     f"{'?' + call['query'] if call['query'] else ''} → {call['status']}" for call in transcript)
