"""Drift overviews computed from the runs: parameter series (exact, bucketed, versus), feature heatmap, facets.

Expectations are computed here from the runs the test wrote.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from factories import API, drifts_url, iso, run_body

UTC = timezone.utc
START = datetime(2026, 5, 4, tzinfo=UTC)  # a Monday


def get(client, experiment, name, user, **params):
    response = client.get(drifts_url(experiment, name), query_string=params, headers=user.headers)
    assert response.status_code == 200, response.json
    return response.json


def post_run(client, user, experiment, **fields):
    response = client.post(f"{API}/experiment/{experiment['id']}/drift", json=run_body(**fields), headers=user.headers)
    assert response.status_code == 201, response.json
    return response.json


# Series ----------------------------------------------------------------------------------------


def test_series_returns_every_run_with_a_numeric_value(client, alice, experiment):
    values = [0.5, 3, -2.25, 10**12, 0.0]
    runs = [post_run(client, alice, experiment, model=f"m{index % 2}", drift_detected=index % 2 == 0,
                     job_status="Completed", parameters={"accuracy": value},
                     created_at=iso(START + timedelta(hours=5 * (len(values) - index))))
            for index, value in enumerate(values)]
    for not_a_number in ("0.5", True, [1, 2], {"x": 1}, None):
        post_run(client, alice, experiment, parameters={"accuracy": not_a_number})
    post_run(client, alice, experiment, parameters={"other": 1})

    series = get(client, experiment, "series", alice, parameter="parameters.accuracy")

    assert series["parameter"] == "parameters.accuracy" and series["versus"] is None
    assert series["matched"] == len(values)
    assert series["downsampled"] is False
    assert series["points"] == [
        {"created_at": run["created_at"], "value": float(run["parameters"]["accuracy"]),
         "min": float(run["parameters"]["accuracy"]), "max": float(run["parameters"]["accuracy"]), "count": 1,
         "drift_detected": run["drift_detected"], "model": run["model"], "run_id": run["id"]}
        for run in sorted(runs, key=lambda run: run["created_at"])
    ]
    only_m1 = get(client, experiment, "series", alice, parameter="parameters.accuracy", model="m1")
    assert [point["run_id"] for point in only_m1["points"]] == [
        run["id"] for run in sorted(runs, key=lambda run: run["created_at"]) if run["model"] == "m1"]


@pytest.mark.parametrize("parameter, body", [
    ("data_drift.parameters.age.p_value", {"data_drift": {"drift": True, "parameters": {"age": {"p_value": 0.01}}}}),
    ("concept_drift.parameters.accuracy_drop", {"concept_drift": {"drift": False,
                                                                  "parameters": {"accuracy_drop": 0.2}}}),
    ("parameters.nested.deep.value", {"parameters": {"nested": {"deep": {"value": 7}}}}),
])
def test_series_reads_any_path_below_the_parameter_objects(client, alice, experiment, parameter, body):
    run = post_run(client, alice, experiment, **body)
    post_run(client, alice, experiment)

    series = get(client, experiment, "series", alice, parameter=parameter)

    expected = run
    for key in parameter.split("."):
        expected = expected[key]
    assert [(point["run_id"], point["value"]) for point in series["points"]] == [(run["id"], float(expected))]


# A job status filter is not one the daily digests are kept by: it makes the server aggregate the runs.
@pytest.mark.parametrize("filters, source", [({"job_status": "Running"}, "runs"), ({}, "summaries")])
def test_series_beyond_the_point_budget_is_bucketed_and_keeps_the_extremes(client, alice, experiment, filters,
                                                                           source):
    rng = random.Random(11)
    runs = []
    for index in range(60):
        value = rng.uniform(-1, 1)
        if index == 17:
            value = -100.0
        if index == 42:
            value = 100.0
        runs.append(post_run(client, alice, experiment, model=rng.choice(["a", "b"]),
                             drift_detected=rng.random() < 0.4, parameters={"score": value},
                             created_at=iso(START + timedelta(minutes=rng.uniform(0, 6 * 24 * 60)))))

    series = get(client, experiment, "series", alice, parameter="parameters.score", points=10, **filters)

    points = series["points"]
    assert series["source"] == source
    assert series["downsampled"] is True
    assert series["matched"] == 60
    assert len(points) <= 10
    assert sum(point["count"] for point in points) == 60
    assert min(point["min"] for point in points) == -100.0
    assert max(point["max"] for point in points) == 100.0
    assert [point["created_at"] for point in points] == sorted(point["created_at"] for point in points)
    for flag in (True, False):
        split = [run for run in runs if run["drift_detected"] is flag]
        buckets = [point for point in points if point["drift_detected"] is flag]
        assert sum(point["count"] for point in buckets) == len(split)
        assert sum(point["value"] * point["count"] for point in buckets) == pytest.approx(
            sum(run["parameters"]["score"] for run in split))
        if source == "runs":  # a bucket is dated by its earliest run
            assert {point["created_at"] for point in buckets} <= {run["created_at"] for run in split}
        else:  # by its first day
            assert all(point["created_at"].endswith("T00:00:00.000Z") for point in buckets)
    for point in points:
        assert point["min"] <= point["value"] <= point["max"]
        if source == "runs":
            assert (point["run_id"] is not None) == (point["count"] == 1)
        else:
            assert point["run_id"] is None
        if point["model"] is not None:
            assert point["model"] in {"a", "b"}


def test_series_of_an_experiment_without_runs_is_empty(client, alice, experiment):
    series = get(client, experiment, "series", alice, parameter="parameters.x")

    assert series == {"parameter": "parameters.x", "versus": None, "matched": 0, "downsampled": False, "points": [],
                      "source": "runs", "since": None, "until": None}


def test_series_honours_the_time_window_exactly(client, alice, experiment):
    runs = [post_run(client, alice, experiment, parameters={"x": hour},
                     created_at=iso(START + timedelta(hours=hour))) for hour in range(6)]

    series = get(client, experiment, "series", alice, parameter="parameters.x",
                 since=runs[1]["created_at"], until=runs[4]["created_at"])

    assert [point["value"] for point in series["points"]] == [1.0, 2.0, 3.0]


def test_versus_pairs_two_parameters_of_the_same_runs(client, alice, experiment):
    rng = random.Random(5)
    runs = [post_run(client, alice, experiment, drift_detected=index % 3 == 0,
                     parameters={"accuracy": rng.random()},
                     data_drift={"drift": False, "parameters": {"age": {"p_value": rng.random()}}},
                     created_at=iso(START + timedelta(hours=index)))
            for index in range(25)]
    post_run(client, alice, experiment, parameters={"accuracy": 0.5})  # no p_value: not a pair

    pairs = get(client, experiment, "series", alice, parameter="parameters.accuracy",
                versus="data_drift.parameters.age.p_value", points=100)

    assert pairs["versus"] == "data_drift.parameters.age.p_value"
    assert (pairs["matched"], pairs["downsampled"]) == (25, False)
    assert pairs["points"] == [
        {"x": run["parameters"]["accuracy"], "y": run["data_drift"]["parameters"]["age"]["p_value"],
         "created_at": run["created_at"], "drift_detected": run["drift_detected"], "model": run["model"],
         "run_id": run["id"]} for run in runs
    ]

    sampled = get(client, experiment, "series", alice, parameter="parameters.accuracy",
                  versus="data_drift.parameters.age.p_value", points=10)
    assert (sampled["matched"], sampled["downsampled"], len(sampled["points"])) == (25, True, 10)
    by_id = {point["run_id"]: point for point in pairs["points"]}
    assert len({point["run_id"] for point in sampled["points"]}) == 10
    assert all(point == by_id[point["run_id"]] for point in sampled["points"])


# Heatmap ---------------------------------------------------------------------------------------


def feature_runs(client, user, experiment, count=18, seed=3):
    rng = random.Random(seed)
    runs = []
    for index in range(count):
        features = {
            name: {"p_value": rng.random(), "statistic": rng.uniform(0, 5), "drift": rng.random() < rate}
            for name, rate in (("age", 0.5), ("income", 0.5), ("zip", 0.0), ("city", 0.2))
        }
        del features[rng.choice(["age", "zip"])]["p_value" if index % 4 == 0 else "statistic"]
        runs.append(post_run(client, user, experiment, job_status="Completed", data_drift={
            "drift": any(feature["drift"] for feature in features.values()),
            "parameters": {**features, "drift_share": 0.25, "notes": {"text": "not a statistic"}},
        }, created_at=iso(START + timedelta(hours=rng.uniform(0, 20 * 24)))))
    return runs


def expected_heatmap(runs, statistic, interval):
    cells = defaultdict(list)
    for run in runs:
        day = datetime.fromisoformat(run["created_at"]).date()
        start = day - timedelta(days=day.weekday()) if interval == "week" else day
        for name, feature in run["data_drift"]["parameters"].items():
            if isinstance(feature, dict) and isinstance(feature.get(statistic), float):
                cells[(name, start)].append((feature[statistic], feature["drift"]))
    features = defaultdict(list)
    for (name, _start), entries in cells.items():
        features[name] += entries
    direction = 1 if statistic == "p_value" else -1

    def rank(name):
        entries = features[name]
        return (-sum(drift for _value, drift in entries), direction * sum(v for v, _d in entries) / len(entries), name)

    order = sorted(features, key=rank)
    return order, [
        {"feature": name, "start": f"{start.isoformat()}T00:00:00.000Z",
         "mean": pytest.approx(sum(v for v, _d in entries) / len(entries)), "min": min(v for v, _d in entries),
         "max": max(v for v, _d in entries), "runs": len(entries), "detected": sum(d for _v, d in entries)}
        for (name, start), entries in sorted(cells.items(), key=lambda item: (order.index(item[0][0]), item[0][1]))
    ]


@pytest.mark.parametrize("statistic, interval", [("p_value", "day"), ("statistic", "week")])
def test_heatmap_cells_per_feature_and_bucket(client, alice, experiment, statistic, interval):
    runs = feature_runs(client, alice, experiment)

    heatmap = get(client, experiment, "heatmap", alice, statistic=statistic, interval=interval)

    order, cells = expected_heatmap(runs, statistic, interval)
    assert heatmap["result"] == "data_drift" and heatmap["statistic"] == statistic
    assert heatmap["interval"] == interval
    assert heatmap["features"] == order
    assert heatmap["features_total"] == 4
    assert heatmap["cells"] == cells


def test_heatmap_shows_the_most_drifting_features_first(client, alice, experiment):
    runs = feature_runs(client, alice, experiment)

    top = get(client, experiment, "heatmap", alice, max_features=2)

    order, cells = expected_heatmap(runs, "p_value", "day")
    assert top["features"] == order[:2]
    assert top["features_total"] == 4
    assert top["cells"] == [cell for cell in cells if cell["feature"] in order[:2]]
    assert "zip" not in top["features"]  # never detected


def test_heatmap_auto_interval_and_filters(client, alice, experiment):
    feature_runs(client, alice, experiment)

    assert get(client, experiment, "heatmap", alice)["interval"] == "day"  # 20 days of runs
    assert get(client, experiment, "heatmap", alice, since="2025-01-01", until="2026-06-01")["interval"] == "week"
    nothing = get(client, experiment, "heatmap", alice, result="concept_drift")
    assert (nothing["features"], nothing["features_total"], nothing["cells"]) == ([], 0, [])
    assert get(client, experiment, "heatmap", alice, job_status="Running")["cells"] == []


# Facets ----------------------------------------------------------------------------------------


def test_facets_suggest_what_recent_runs_hold(client, alice, experiment):
    post_run(client, alice, experiment, model="old", tags=["ancient"], parameters={"legacy": 1},
             created_at="2025-01-01T00:00:00Z")
    now = datetime.now(UTC)
    for index in range(3):
        post_run(client, alice, experiment, model=f"m{index}", tags=["prod", f"t{index}"],
                 parameters={"accuracy": 0.9, "nested": {"depth": 2, "label": "x"}, "flag": True, "list": [1],
                             "dotted.key": 1},
                 data_drift={"drift": True, "parameters": {"age": {"p_value": 0.01, "statistic": 3, "drift": True},
                                                           "drift_share": 0.3}},
                 concept_drift={"drift": False, "parameters": {"accuracy_drop": 0.1}},
                 created_at=iso(now - timedelta(minutes=index)))

    facets = get(client, experiment, "facets", alice, sample=3)

    assert facets == {
        "models": ["m0", "m1", "m2", "old"],  # every model, from the summaries
        "tags": ["prod", "t0", "t1", "t2"],  # the old run is not among the 3 most recent
        "parameters": ["concept_drift.parameters.accuracy_drop", "data_drift.parameters.age.p_value",
                       "data_drift.parameters.age.statistic", "data_drift.parameters.drift_share",
                       "parameters.accuracy", "parameters.nested.depth"],
        "features": {"data_drift": ["age"], "concept_drift": []},
        "statistics": ["p_value", "statistic"],
        "sampled_runs": 3,
    }
    assert get(client, experiment, "facets", alice, sample=1)["sampled_runs"] == 1
    assert "ancient" in get(client, experiment, "facets", alice)["tags"]  # 200 reach back to it


# Refusals and documentation ---------------------------------------------------------------------


@pytest.mark.parametrize("name, params, field", [
    ("series", {}, "parameter"),
    ("series", {"parameter": "accuracy"}, "parameter"),
    ("series", {"parameter": "parameters"}, "parameter"),
    ("series", {"parameter": "parameters..x"}, "parameter"),
    ("series", {"parameter": "parameters.x."}, "parameter"),
    ("series", {"parameter": "parameters.$where"}, "parameter"),
    ("series", {"parameter": "data_drift.drift"}, "parameter"),
    ("series", {"parameter": "experiment_id"}, "parameter"),
    ("series", {"parameter": "parameters.x", "versus": "tags.0"}, "versus"),
    ("series", {"parameter": "parameters.x", "points": 9}, "points"),
    ("series", {"parameter": "parameters.x", "points": 10001}, "points"),
    ("summary", {"interval": "year"}, "interval"),
    ("summary", {"stuck_after_minutes": 0}, "stuck_after_minutes"),
    ("summary", {"detected": "maybe"}, "detected"),
    ("summary", {"job_status": "Done"}, "job_status"),
    ("summary", {"drift_type": "both"}, "drift_type"),
    ("summary", {"since": "yesterday"}, "since"),
    ("summary", {"since": "2026-03-02", "until": "2026-03-01"}, "until"),
    ("summary", {"modle": "typo"}, "modle"),
    ("heatmap", {"result": "parameters"}, "result"),
    ("heatmap", {"statistic": "a.b"}, "statistic"),
    ("heatmap", {"max_features": 0}, "max_features"),
    ("heatmap", {"max_features": 201}, "max_features"),
    ("facets", {"sample": 0}, "sample"),
    ("facets", {"model": "m"}, "model"),
])
def test_bad_arguments_are_422_in_the_usual_error_shape(client, alice, experiment, name, params, field):
    response = client.get(drifts_url(experiment, name), query_string=params, headers=alice.headers)

    assert response.status_code == 422
    body = response.json
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == 422
    assert field in json.dumps(body["errors"])
    assert field in body["message"]


def test_overviews_hide_private_experiments(client, alice, make_user, make_experiment):
    private, public = make_experiment(alice), make_experiment(alice, public=True)
    bob = make_user()
    params = {"summary": {}, "series": {"parameter": "parameters.x"}, "heatmap": {}, "facets": {}}

    for name, query in params.items():
        assert client.get(drifts_url(private, name), query_string=query, headers=bob.headers).status_code == 404
        assert client.get(drifts_url(private, name), query_string=query).status_code == 404
        assert client.get(drifts_url(public, name), query_string=query).status_code == 200


def test_the_overviews_are_documented(client):
    spec = client.get(f"{API}/openapi.json").json

    for name, schema in (("summary", "DriftSummary"), ("series", "Series"), ("heatmap", "Heatmap"),
                         ("facets", "Facets")):
        operation = spec["paths"][f"{API}/experiment/{{experiment_id}}/drift/{name}"]["get"]
        assert operation["summary"] and operation["description"]
        assert {"200", "404", "422"} <= set(operation["responses"])
        assert {} in operation["security"]
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith(f"/{schema}")
    summary_args = {parameter["name"] for parameter in
                    spec["paths"][f"{API}/experiment/{{experiment_id}}/drift/summary"]["get"]["parameters"]
                    if parameter["in"] == "query"}
    assert {"since", "until", "model", "tag", "job_status", "drift_type", "detected", "interval",
            "stuck_after_minutes"} <= summary_args
    assert "stats" in spec["components"]["schemas"]["Experiment"]["properties"]
