"""Security issue 11, bounded work per request: each attack is sent to the live app with real tokens.

A request's database time is limited, regular expressions cannot be made to backtrack for ever,
facets read a bounded number of bytes, and per-user quotas answer 429 with Retry-After.
"""

from __future__ import annotations

import time
import uuid

import pytest

from factories import API, drifts_url, run_body

ERROR_KEYS = {"code", "status", "message", "errors"}


def assert_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert set(response.json) == ERROR_KEYS
    assert response.json["code"] == status


def app_with(app_env, **overrides):
    """A second app on the same database, with other settings (tokens and data are shared)."""
    from drift_backend import create_app
    from drift_backend.settings import Settings

    return create_app(Settings.from_environ({**app_env, **overrides}))


@pytest.fixture
def make_app(app_env):
    made = []

    def make(**overrides):
        application = app_with(app_env, **overrides)
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["mongo"].close()


# 1. Database time limit ----------------------------------------------------------------------------


def _slow_runs(db, experiment, count=3000, length=2000):
    """Enough runs that a regex scan of them outlasts a tiny limit on the embedded server."""
    db.drifts.insert_many([{**run_body(model="a" * length + str(i)), "_id": str(uuid.uuid4()),
                            "experiment_id": experiment["id"], "schema_version": "2.0.0"} for i in range(count)])


def test_a_search_past_the_database_time_limit_answers_503_json(make_app, alice, experiment, db):
    _slow_runs(db, experiment)
    limited = make_app(APP_DB_MAX_TIME_MS="1").test_client()
    # A cheap request fits in the limit: the 503 below is the slow search's, not the set-up's.
    assert limited.get(f"{API}/experiment/{experiment['id']}", headers=alice.headers).status_code == 200

    started = time.monotonic()
    response = limited.post(f"{drifts_url(experiment)}/search", json={"model": {"$regex": "z"}},
                            headers=alice.headers)

    assert_error(response, 503)
    assert "time limit of 1 ms" in response.json["message"]
    assert response.json["errors"] == {"database": ["time limit of 1 ms exceeded"]}
    assert time.monotonic() - started < 5


def test_without_a_time_limit_the_same_search_completes(make_app, alice, experiment, db):
    _slow_runs(db, experiment, count=3)
    unlimited = make_app(APP_DB_MAX_TIME_MS="0").test_client()
    response = unlimited.post(f"{drifts_url(experiment)}/search", json={"model": {"$regex": "z"}},
                              headers=alice.headers)
    assert response.status_code == 200 and response.json == []


# 2. Regular expressions ------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern, reason", [
    ("(a|aa)*c", "repeating a choice"),
    ("(a{1,100}){1,100}", "nested repetition"),
    ("(a{1,9}){3}", "nested repetition"),
    (".*.*a", "repetitions multiply"),
    ("a.*b.*c", "repetitions multiply"),
    ("a?" * 14 + "a" * 14, "repetitions multiply"),
    ("(?<!a)b", "lookahead and lookbehind"),
    ("(?P<x>a)(?P=x)", "backreferences"),
])
def test_backtracking_patterns_are_refused_naming_the_field(client, alice, experiment, pattern, reason):
    response = client.post(f"{drifts_url(experiment)}/search", headers=alice.headers,
                           json={"$and": [{"model": "m"}, {"parameters.note": {"$regex": pattern}}]})

    assert_error(response, 422)
    assert reason in response.json["message"]
    assert "parameters.note" in response.json["message"]
    assert list(response.json["errors"]["json"]) == ["$and[1].parameters.note.$regex"]


def test_a_refused_pattern_would_hold_the_database(db, experiment):
    """Why (a|aa)*c is refused: on the embedded server one document of 22 characters costs seconds."""
    db.drifts.insert_many([{"_id": str(uuid.uuid4()), "experiment_id": experiment["id"],
                            "model": "a" * 22 + str(i)} for i in range(100)])
    started = time.monotonic()
    db.drifts.count_documents({"model": {"$regex": "(a|aa)*c"}})
    assert time.monotonic() - started > 0.5


@pytest.mark.parametrize("pattern", [".*a", r"\d+\.\d", "(a|b)+", "([0-9]{4}-){2}", r"^v[0-9]{1,3}\.[0-9]{1,3}"])
def test_ordinary_patterns_still_pass(client, alice, experiment, pattern):
    response = client.post(f"{drifts_url(experiment)}/search", headers=alice.headers,
                           json={"model": {"$regex": pattern}})
    assert response.status_code == 200, response.json


def test_six_regular_expressions_are_refused(client, alice, experiment):
    six = {"$and": [{"model": {"$regex": f"^{letter}"}} for letter in "abcdef"]}
    response = client.post(f"{drifts_url(experiment)}/search", headers=alice.headers, json=six)
    assert_error(response, 422)
    assert "too many regular expressions" in response.json["message"]


# 3. Facets read a bounded number of bytes -----------------------------------------------------------


def test_facets_of_large_runs_stay_within_the_byte_budget(client, alice, experiment, make_run):
    from drift_backend.repositories.drift_analytics import FACET_MAX_BYTES

    run_bytes = 700_000
    count = FACET_MAX_BYTES // run_bytes + 3
    for i in range(count):
        make_run(alice, experiment, tags=[f"t{i}"], parameters={"blob": "x" * run_bytes, f"score{i}": i})

    response = client.get(f"{drifts_url(experiment)}/facets?sample=1000", headers=alice.headers)

    assert response.status_code == 200, response.json
    sampled = response.json["sampled_runs"]
    assert 0 < sampled <= FACET_MAX_BYTES // run_bytes < count
    assert len(response.json["tags"]) == sampled  # only what was read is described


def test_facets_of_small_runs_read_them_all(client, alice, experiment, make_run):
    for i in range(5):
        make_run(alice, experiment, parameters={f"score{i}": i})
    response = client.get(f"{drifts_url(experiment)}/facets", headers=alice.headers)
    assert response.json["sampled_runs"] == 5
    assert response.json["parameters"] == [f"parameters.score{i}" for i in range(5)]


# 4. Quotas ---------------------------------------------------------------------------------------------


def _experiment_body():
    return {"name": f"e-{uuid.uuid4().hex[:8]}", "description": "", "public": False, "permissions": []}


def test_experiments_past_the_quota_answer_429_with_retry_after(make_app, make_user, db):
    limited = make_app(APP_QUOTA_EXPERIMENTS_PER_USER="2").test_client()
    alice, bob = make_user(), make_user()
    for _ in range(2):
        assert limited.post(f"{API}/experiment", json=_experiment_body(), headers=alice.headers).status_code == 201

    response = limited.post(f"{API}/experiment", json=_experiment_body(), headers=alice.headers)

    assert_error(response, 429)
    assert int(response.headers["Retry-After"]) > 0
    assert "APP_QUOTA_EXPERIMENTS_PER_USER" in response.json["message"]
    assert response.json["errors"] == {"quota": {"experiments_per_user": ["limit 2"]}}
    assert db.experiments.count_documents({"owner": alice.id}) == 2
    # Others are unaffected, and deleting one frees the quota.
    assert limited.post(f"{API}/experiment", json=_experiment_body(), headers=bob.headers).status_code == 201
    mine = db.experiments.find_one({"owner": alice.id})
    assert limited.delete(f"{API}/experiment/{mine['_id']}", headers=alice.headers).status_code == 204
    assert limited.post(f"{API}/experiment", json=_experiment_body(), headers=alice.headers).status_code == 201


def test_administrators_have_the_experiment_quota_too(make_app, admin):
    limited = make_app(APP_QUOTA_EXPERIMENTS_PER_USER="1").test_client()
    assert limited.post(f"{API}/experiment", json=_experiment_body(), headers=admin.headers).status_code == 201
    assert_error(limited.post(f"{API}/experiment", json=_experiment_body(), headers=admin.headers), 429)


def test_runs_past_the_per_minute_quota_answer_429_with_retry_after(make_app, make_user, make_experiment, db):
    limited = make_app(APP_QUOTA_RUNS_PER_MINUTE="3").test_client()
    alice, bob = make_user(), make_user()
    shared = make_experiment(alice, permissions=[{"entity": bob.id, "level": "Edit"}])
    for _ in range(3):
        assert limited.post(drifts_url(shared), json=run_body(), headers=alice.headers).status_code == 201

    response = limited.post(drifts_url(shared), json=run_body(), headers=alice.headers)

    assert_error(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.json["errors"] == {"quota": {"runs_per_minute": ["limit 3"]}}
    assert db.drifts.count_documents({}) == 3
    # Bob reports to the same experiment: his own window.
    assert limited.post(drifts_url(shared), json=run_body(), headers=bob.headers).status_code == 201
    # Another experiment of alice's does not escape her quota.
    other = make_experiment(alice)
    assert_error(limited.post(drifts_url(other), json=run_body(), headers=alice.headers), 429)


def test_the_run_window_is_one_document_per_user_and_minute_and_expires(make_app, alice, experiment, db):
    limited = make_app(APP_QUOTA_RUNS_PER_MINUTE="100").test_client()
    for _ in range(3):
        assert limited.post(drifts_url(experiment), json=run_body(), headers=alice.headers).status_code == 201

    windows = list(db.quota_windows.find())
    assert len(windows) in (1, 2)  # 2 only when the minute turned during the test
    assert sum(window["count"] for window in windows) == 3 and windows[0]["holder"] == alice.id
    ttl = [index for index in db.quota_windows.list_indexes() if "expireAfterSeconds" in index]
    assert [index["key"] for index in ttl] == [{"expires_at": 1}]
    assert all(window["expires_at"] > window["start"] for window in windows)


def test_the_run_window_is_shared_by_app_processes(make_app, alice, experiment):
    """Two apps (as two gunicorn workers) count into the same window."""
    first = make_app(APP_QUOTA_RUNS_PER_MINUTE="2").test_client()
    second = make_app(APP_QUOTA_RUNS_PER_MINUTE="2").test_client()
    assert first.post(drifts_url(experiment), json=run_body(), headers=alice.headers).status_code == 201
    assert second.post(drifts_url(experiment), json=run_body(), headers=alice.headers).status_code == 201
    assert_error(first.post(drifts_url(experiment), json=run_body(), headers=alice.headers), 429)


def test_a_zero_quota_is_unlimited(make_app, alice, experiment):
    unlimited = make_app(APP_QUOTA_RUNS_PER_MINUTE="0", APP_QUOTA_EXPERIMENTS_PER_USER="0").test_client()
    for _ in range(5):
        assert unlimited.post(drifts_url(experiment), json=run_body(), headers=alice.headers).status_code == 201


# 5. Bad input that used to answer 500 -------------------------------------------------------------


@pytest.mark.parametrize("parameters, path", [
    ({"n": 2**63}, "parameters.n"),
    ({"a": {"b": [1, -(2**63) - 1]}}, "parameters.a.b[1]"),
])
def test_integers_beyond_int64_name_their_path(client, alice, experiment, db, parameters, path):
    response = client.post(drifts_url(experiment), json=run_body(parameters=parameters), headers=alice.headers)
    assert_error(response, 422)
    assert path in response.json["message"]
    assert db.drifts.count_documents({}) == 0


def test_an_int64_in_a_result_s_parameters_is_refused(client, alice, experiment):
    body = run_body(data_drift={"drift": True, "parameters": {"age": {"statistic": 10**30}}})
    assert_error(client.post(drifts_url(experiment), json=body, headers=alice.headers), 422)


@pytest.mark.parametrize("query", ["page=9999999999999999999999", "page=2000000&page_size=100",
                                   "page_size=100000000000"])
def test_huge_pages_of_drift_search_are_refused(client, alice, experiment, query):
    assert_error(client.post(f"{drifts_url(experiment)}/search?{query}", json={}, headers=alice.headers), 422)


@pytest.mark.parametrize("url", ["experiment", "experiment/search", "experiment/{id}/drift/search"])
def test_a_body_nested_100000_levels_deep_answers_json(client, alice, experiment, url):
    response = client.post(f"{API}/{url.format(id=experiment['id'])}", data="[" * 100_000,
                           content_type="application/json", headers=alice.headers)
    assert response.status_code in (400, 422)
    assert set(response.json) == ERROR_KEYS
