"""One run filter: the overviews and the run search select the same runs for the same query arguments.

`RunFilter` itself (queries, counters, windows) is tested directly first; then, for a table of filters,
`GET …/drift/summary` (totals, whole UTC days) and `POST …/drift/search` with the same query arguments
are compared with a recount of the runs this test wrote.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from drift_backend.repositories.run_filter import RunFilter, conjoin
from factories import drifts_url, iso, run_body

UTC = timezone.utc
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
DAY = timedelta(days=1)


# RunFilter, without a database ------------------------------------------------------------------


@pytest.mark.parametrize("run_filter, expected", [
    (RunFilter(), {"experiment_id": "e"}),
    (RunFilter(since=START), {"experiment_id": "e", "created_at": {"$gte": START}}),
    (RunFilter(until=START), {"experiment_id": "e", "created_at": {"$lt": START}}),
    (RunFilter(since=START, until=START + DAY),
     {"experiment_id": "e", "created_at": {"$gte": START, "$lt": START + DAY}}),
    (RunFilter(models=("a", "b")), {"experiment_id": "e", "model": {"$in": ["a", "b"]}}),
    (RunFilter(tags=("prod", "eu")), {"experiment_id": "e", "tags": {"$all": ["prod", "eu"]}}),
    (RunFilter(job_statuses=("Failed",)), {"experiment_id": "e", "job_status": {"$in": ["Failed"]}}),
    (RunFilter(detected=True), {"experiment_id": "e", "drift_detected": True}),
    (RunFilter(drift_type="concept"), {"experiment_id": "e", "concept_drift.drift": {"$in": [True, False]}}),
    (RunFilter(drift_type="data", detected=False), {"experiment_id": "e", "data_drift.drift": False}),
])
def test_runs_query_says_each_condition_once(run_filter, expected):
    assert run_filter.runs_query("e") == expected


def test_runs_query_ands_a_search_filter_without_letting_either_replace_the_other():
    run_filter = RunFilter(models=("a",), detected=True)

    assert run_filter.runs_query("e", {"tags": "prod"}) == {
        "tags": "prod", "experiment_id": "e", "model": {"$in": ["a"]}, "drift_detected": True}
    # Both constrain the model: both conditions must hold.
    assert run_filter.runs_query("e", {"model": "b", "$or": [{"job_status": "Failed"}]}) == {
        "experiment_id": "e", "model": {"$in": ["a"]}, "drift_detected": True,
        "$or": [{"job_status": "Failed"}], "$and": [{"model": "b"}]}
    assert run_filter.runs_query("e", {}) == run_filter.runs_query("e") == run_filter.runs_query("e", None)


@pytest.mark.parametrize("query, also, expected", [
    ({"a": 1}, None, {"a": 1}),
    ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ({"a": 1}, {"a": 2, "b": 2}, {"a": 1, "b": 2, "$and": [{"a": 2}]}),
    ({"a": 1}, {"a": 2, "$and": [{"c": 3}]}, {"a": 1, "$and": [{"c": 3}, {"a": 2}]}),
    ({"a": 1, "$and": [{"d": 4}]}, {"$and": [{"c": 3}]}, {"a": 1, "$and": [{"d": 4}, {"c": 3}]}),
])
def test_conjoin_keeps_every_condition(query, also, expected):
    before = json.dumps([query, also])

    assert conjoin(query, also) == expected
    assert json.dumps([query, also]) == before  # neither is changed in place


def counter(day=START, model="m", job_status="Completed", concept=None, data=None, drift_detected=False) -> dict:
    return {"day": day, "model": model, "job_status": job_status, "concept": concept, "data": data,
            "drift_detected": drift_detected}


@pytest.mark.parametrize("run_filter, row, matches", [
    (RunFilter(), counter(), True),
    (RunFilter(since=START + timedelta(hours=5)), counter(day=START), True),  # the day the window starts on
    (RunFilter(since=START + DAY), counter(day=START), False),
    (RunFilter(until=START + DAY), counter(day=START + DAY), False),
    (RunFilter(models=("a",)), counter(model="b"), False),
    (RunFilter(job_statuses=("Running", "Failed")), counter(job_status="Failed"), True),
    (RunFilter(job_statuses=("Running",)), counter(job_status="Failed"), False),
    (RunFilter(detected=True), counter(drift_detected=True), True),
    (RunFilter(detected=False), counter(drift_detected=True), False),
    (RunFilter(drift_type="concept"), counter(concept=False), True),
    (RunFilter(drift_type="concept"), counter(data=True), False),
    (RunFilter(drift_type="data", detected=True), counter(data=True, drift_detected=True), True),
    # With a drift type, `detected` is that result's outcome, not drift_detected.
    (RunFilter(drift_type="data", detected=False), counter(data=False, concept=True, drift_detected=True), True),
    (RunFilter(tags=("prod",)), counter(), True),  # counters know no tags: the caller reads the runs instead
])
def test_matches_counter(run_filter, row, matches):
    assert run_filter.matches_counter(row) is matches


def test_whole_days_widens_the_window_to_utc_days():
    inside = RunFilter(since=START + timedelta(hours=13), until=START + 2 * DAY + timedelta(minutes=1))

    assert inside.whole_days() == RunFilter(since=START, until=START + 3 * DAY)
    assert RunFilter(until=START + DAY).whole_days() == RunFilter(until=START + DAY)
    assert RunFilter(models=("a",)).whole_days() == RunFilter(models=("a",))


# The overview and the search, against the runs ---------------------------------------------------


@pytest.fixture
def app_env(app_env):
    """Counters written by each request (APP_SUMMARY_DELAY_MS=0), so a summary right after the writes sees them."""
    return {**app_env, "APP_SUMMARY_DELAY_MS": "0"}


MODELS = ("alpha", "beta", "gamma")
TAGS = ((), ("prod",), ("prod", "eu"), ("eu",))
STATUSES = ("Running", "Completed", "Failed")


def history(client, user, experiment) -> list[dict]:
    """42 runs over 7 days covering every combination the table selects on; returned as stored."""
    runs = []
    for index in range(42):
        body = run_body(model=MODELS[index % 3], tags=list(TAGS[index % 4]), job_status=STATUSES[(index // 2) % 3],
                        drift_detected=index % 5 == 0,
                        created_at=iso(START + index // 6 * DAY + timedelta(hours=1 + 4 * (index % 6))))
        if index % 4 in (0, 1):
            body["concept_drift"] = {"drift": index % 8 == 0, "parameters": {}}
        if index % 3 == 0:
            body["data_drift"] = {"drift": index % 6 == 0, "parameters": {}}
        response = client.post(drifts_url(experiment), json=body, headers=user.headers)
        assert response.status_code == 201, response.json
        runs.append(response.json)
    return runs


def selected(run: dict, arguments: dict) -> bool:
    """Whether the query `arguments` select `run`, by the documented meaning of each argument."""
    created = datetime.fromisoformat(run["created_at"])
    if "since" in arguments and created < datetime.fromisoformat(arguments["since"]):
        return False
    if "until" in arguments and created >= datetime.fromisoformat(arguments["until"]):
        return False
    if "model" in arguments and run["model"] not in arguments["model"]:
        return False
    if "tag" in arguments and not set(arguments["tag"]) <= set(run["tags"]):
        return False
    if "job_status" in arguments and run["job_status"] not in arguments["job_status"]:
        return False
    detected = {"true": True, "false": False}.get(arguments.get("detected"))
    if "drift_type" in arguments:
        result = run.get(f"{arguments['drift_type']}_drift")
        return result is not None and (detected is None or result["drift"] is detected)
    return detected is None or run["drift_detected"] is detected


# Whole-day windows: the summary counts exactly these runs too.
FILTERS = [
    {},
    {"since": iso(START + 2 * DAY)},
    {"until": iso(START + 3 * DAY)},
    {"since": iso(START + DAY), "until": iso(START + 4 * DAY)},
    {"model": ["beta"]},
    {"model": ["alpha", "gamma"]},
    {"tag": ["prod"]},
    {"tag": ["prod", "eu"]},
    {"job_status": ["Failed"]},
    {"job_status": ["Running", "Completed"]},
    {"detected": "true"},
    {"detected": "false"},
    {"drift_type": "concept"},
    {"drift_type": "data"},
    {"drift_type": "concept", "detected": "true"},
    {"drift_type": "data", "detected": "false"},
    {"model": ["alpha"], "job_status": ["Completed", "Failed"], "drift_type": "data"},
    {"since": iso(START + DAY), "model": ["beta", "gamma"], "tag": ["eu"], "detected": "false"},
    {"until": iso(START + 5 * DAY), "job_status": ["Running"], "drift_type": "concept", "detected": "false"},
]


def search_all(client, user, experiment, arguments: dict, body: dict | None = None) -> tuple[list[str], int]:
    """Every id a search with these query arguments finds (all pages), and the total it reports."""
    ids, page, total = [], 1, None
    while True:
        response = client.post(drifts_url(experiment, "search"), json=body or {}, headers=user.headers,
                               query_string={**arguments, "page": page, "page_size": 10})
        assert response.status_code == 200, response.json
        ids += [run["id"] for run in response.json]
        total = json.loads(response.headers["X-Pagination"])["total"]
        if len(ids) >= total or not response.json:
            return ids, total
        page += 1


def test_the_summary_and_the_search_select_the_same_runs(client, alice, experiment):
    runs = history(client, alice, experiment)

    for arguments in FILTERS:
        expected = {run["id"] for run in runs if selected(run, arguments)}
        assert expected, f"{arguments} should select some runs"
        response = client.get(drifts_url(experiment, "summary"), query_string=arguments, headers=alice.headers)
        assert response.status_code == 200, response.json
        assert response.json["totals"]["runs"] == len(expected), arguments
        ids, total = search_all(client, alice, experiment, arguments)
        assert total == len(ids) == len(set(ids)), arguments
        assert set(ids) == expected, arguments


def test_a_window_within_days_is_exact_in_the_search_and_whole_days_in_the_summary(client, alice, experiment):
    runs = history(client, alice, experiment)
    arguments = {"since": iso(START + DAY + timedelta(hours=10)), "until": iso(START + 3 * DAY + timedelta(hours=3))}
    widened = {"since": iso(START + DAY), "until": iso(START + 4 * DAY)}

    summary = client.get(drifts_url(experiment, "summary"), query_string=arguments, headers=alice.headers).json
    ids, _ = search_all(client, alice, experiment, arguments)

    assert (summary["since"], summary["until"]) == (widened["since"], widened["until"])
    assert summary["totals"]["runs"] == sum(selected(run, widened) for run in runs)
    assert set(ids) == {run["id"] for run in runs if selected(run, arguments)}
    assert len(ids) < summary["totals"]["runs"]


def test_the_search_ands_its_query_arguments_with_its_body(client, alice, experiment):
    runs = history(client, alice, experiment)
    by_model = {model: {run["id"] for run in runs if run["model"] == model} for model in MODELS}

    both, _ = search_all(client, alice, experiment, {"model": ["alpha", "beta"]}, {"model": "alpha"})
    assert set(both) == by_model["alpha"]
    neither, total = search_all(client, alice, experiment, {"model": ["alpha"]}, {"model": "beta"})
    assert neither == [] and total == 0
    failed_alpha, _ = search_all(client, alice, experiment, {"model": ["alpha"]},
                                 {"$or": [{"job_status": "Failed"}], "tags": "eu"})
    assert set(failed_alpha) == {run["id"] for run in runs if run["model"] == "alpha"
                                 and run["job_status"] == "Failed" and "eu" in run["tags"]}


def test_the_search_still_sorts_and_ignores_other_query_arguments(client, alice, experiment):
    runs = history(client, alice, experiment)
    beta = sorted((run for run in runs if run["model"] == "beta"), key=lambda run: run["created_at"])

    response = client.post(drifts_url(experiment, "search"), json={}, headers=alice.headers,
                           query_string={"model": "beta", "sort_by": "created_at", "order_by": "asc",
                                         "page_size": 100, "something_else": "1"})

    assert response.status_code == 200, response.json
    assert [run["id"] for run in response.json] == [run["id"] for run in beta]


@pytest.mark.parametrize("arguments, field", [
    ({"detected": "maybe"}, "detected"),
    ({"drift_type": "concept_drift"}, "drift_type"),
    ({"job_status": "Done"}, "job_status"),
    ({"since": "yesterday"}, "since"),
    ({"since": iso(START + DAY), "until": iso(START)}, "until"),
    ({"since": "0001-01-01T00:00:00+01:00"}, "_schema"),  # found once loaded, when converted to UTC
    ({"model": ""}, "model"),
    ({"tag": "t" * 21}, "tag"),
])
def test_bad_filter_arguments_are_422_on_the_search_and_the_overviews(client, alice, experiment, arguments, field):
    for request in (lambda: client.post(drifts_url(experiment, "search"), json={}, headers=alice.headers,
                                        query_string=arguments),
                    lambda: client.get(drifts_url(experiment, "summary"), headers=alice.headers,
                                       query_string=arguments)):
        response = request()
        assert response.status_code == 422, response.json
        assert set(response.json) == {"code", "status", "message", "errors"}
        assert field in response.json["errors"]["query"]


def test_the_search_documents_its_filter_arguments(client):
    spec = client.get("/api/v1/openapi.json").json

    operation = spec["paths"]["/api/v1/experiment/{experiment_id}/drift/search"]["post"]
    names = {parameter["name"] for parameter in operation["parameters"] if parameter["in"] == "query"}
    assert {"since", "until", "model", "tag", "job_status", "drift_type", "detected", "sort_by", "order_by",
            "page", "page_size"} <= names
    assert "summary" in operation["description"]
