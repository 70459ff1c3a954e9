"""Per-day digests of numeric parameters in the drift summaries: kept exact by every run write, equal to a
rebuild, and answering /drift/heatmap and downsampled /drift/series like the runs do.

Expectations are computed here from the stored runs, independently of the server's digests.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pytest

from factories import drifts_url, iso, run_body

UTC = timezone.utc
START = datetime(2026, 5, 4, tzinfo=UTC)
ROOTS = ("parameters", "concept_drift.parameters", "data_drift.parameters")
# Every job status: selects every run, but is a filter the digests are not kept by, so it forces the
# overviews to aggregate the runs.
LIVE = {"job_status": ["Running", "Completed", "Failed"]}
ODD_NAME = "a.b$c%d/e"


@pytest.fixture
def app_env(app_env):
    """Counter changes written by each request (APP_SUMMARY_DELAY_MS=0), so tests can read the collection."""
    return {**app_env, "APP_SUMMARY_DELAY_MS": "0"}


def get(client, experiment, name, user, **params):
    response = client.get(drifts_url(experiment, name), query_string=params, headers=user.headers)
    assert response.status_code == 200, response.json
    return response.json


def post(client, user, experiment, **fields):
    response = client.post(drifts_url(experiment), json=run_body(**fields), headers=user.headers)
    assert response.status_code == 201, response.json
    return response.json


# What the digests must say, computed from the runs -----------------------------------------------


def leaves_of(node, path=()):
    """(path, value, parent) of every number (not bool) at most 6 keys below `node`."""
    for key, value in node.items():
        if isinstance(value, dict):
            if len(path) + 1 < 6:
                yield from leaves_of(value, (*path, key))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield (*path, key), value, node


def flagged(root, path, parent):
    """Whether a leaf is a statistic of a per-feature object that says it drifted."""
    feature = path[:-1]
    is_feature = root != "parameters" and ((len(feature) == 1 and feature[0] != "features")
                                           or (len(feature) == 2 and feature[0] == "features"))
    return is_feature and (parent.get("drifted") is True or parent.get("drift") is True)


def expected_digests(db, experiment_id):
    """{(day, model, drift_detected, root, path): [n, sum, min, max, det]} from the stored runs."""
    digests = {}
    for run in db.drifts.find({"experiment_id": experiment_id}):
        for root in ROOTS:
            node = run
            for part in root.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                continue
            for path, value, parent in leaves_of(node):
                key = (run["created_at"].date().isoformat(), run["model"], json.dumps(run["drift_detected"]), root, path)
                digest = digests.setdefault(key, [0, 0.0, math.inf, -math.inf, 0])
                digest[0] += 1
                digest[1] += value
                digest[2] = min(digest[2], value)
                digest[3] = max(digest[3], value)
                digest[4] += flagged(root, path, parent)
    return digests


def stored_digests(db, experiment_id):
    """The same, from the summary documents (entries with n == 0 left by removals are skipped)."""
    digests = {}
    for document in db.drift_summaries.find({"experiment_id": experiment_id}):
        for detected, by_root in (document.get("stats") or {}).items():
            for root in ROOTS:
                node = by_root
                for part in root.split("."):
                    node = (node or {}).get(part)
                for name, digest in (node or {}).items():
                    if digest["n"]:
                        path = tuple(unquote(segment) for segment in name.split("/"))
                        digests[(document["day"].date().isoformat(), document["model"], detected, root, path)] = [
                            digest["n"], digest["sum"], digest["min"], digest["max"], digest.get("det", 0)]
    return digests


def assert_digests_exact(db, experiment_id, bounds_exact=False):
    """n, sum and det equal the runs'; min and max hold them (and equal them when `bounds_exact`)."""
    expected, stored = expected_digests(db, experiment_id), stored_digests(db, experiment_id)
    assert stored.keys() == expected.keys()
    for key, (n, total, low, high, det) in expected.items():
        s_n, s_total, s_low, s_high, s_det = stored[key]
        assert (s_n, s_det) == (n, det), key
        assert s_total == pytest.approx(total, abs=1e-9), key
        assert s_low <= low and s_high >= high, key
        if bounds_exact:
            assert (s_low, s_high) == (low, high), key


def features(rng, layout, names=("age", "income", "zip")):
    """A data drift result holding per-feature objects in either layout."""
    objects = {name: {"test": "ks", "statistic": round(rng.uniform(0, 3), 3), "p_value": rng.random(),
                      "drifted" if layout == "features" else "drift": rng.random() < 0.4}
               for name in names}
    parameters = {"features": objects} if layout == "features" else dict(objects)
    parameters.update(drift_share=rng.random(), n_features=len(names))
    return {"drift": any(item.get("drifted") or item.get("drift") for item in objects.values()),
            "parameters": parameters}


# Maintenance ---------------------------------------------------------------------------------------


def test_digests_stay_exact_through_every_kind_of_run_write(client, alice, experiment, db):
    from drift_backend.repositories.summaries import DriftSummaries

    rng = random.Random(1)
    replayed = run_body(id=str(uuid.uuid4()), model="a", parameters={"accuracy": 0.9, "deep": {"x": {"y": 3}}},
                        data_drift=features(rng, "features"), created_at=iso(START))
    assert client.post(drifts_url(experiment), json=replayed, headers=alice.headers).status_code == 201
    assert client.post(drifts_url(experiment), json=replayed, headers=alice.headers).status_code == 200  # counts nothing
    assert_digests_exact(db, experiment["id"], bounds_exact=True)

    others = [post(client, alice, experiment, model=rng.choice("ab"), drift_detected=rng.random() < 0.5,
                   parameters={"accuracy": rng.random(), "count": rng.randint(0, 9), "flag": True, "text": "x"},
                   data_drift=features(rng, rng.choice(["features", "flat"])),
                   concept_drift={"drift": False, "parameters": {"accuracy_drop": rng.random()}},
                   created_at=iso(START + timedelta(hours=rng.uniform(0, 72))))
              for _ in range(8)]
    assert_digests_exact(db, experiment["id"], bounds_exact=True)

    # PUT: new numbers, a result removed.
    response = client.put(drifts_url(experiment, replayed["id"]), headers=alice.headers, json=run_body(
        model="a", job_status="Completed", parameters={"accuracy": 0.1, "new": -4}))
    assert response.status_code == 200, response.json
    assert_digests_exact(db, experiment["id"])
    # PATCH: numbers only (the counters do not move), the model (another document), drift detected.
    for change in ({"parameters": {"accuracy": 123.5}}, {"model": "c"}, {"drift_detected": True},
                   {"data_drift": features(rng, "flat")}):
        response = client.patch(drifts_url(experiment, others[0]["id"]), json=change, headers=alice.headers)
        assert response.status_code == 200, response.json
        assert_digests_exact(db, experiment["id"])
    assert client.delete(drifts_url(experiment, others[1]["id"]), headers=alice.headers).status_code == 204
    assert_digests_exact(db, experiment["id"])

    maintained = stored_digests(db, experiment["id"])
    db.drift_summaries.update_many({"experiment_id": experiment["id"]}, {"$unset": {"stats": ""}})
    DriftSummaries(db).rebuild(experiment["id"])
    assert_digests_exact(db, experiment["id"], bounds_exact=True)
    rebuilt = stored_digests(db, experiment["id"])
    assert rebuilt.keys() == maintained.keys()
    for key, (n, total, _low, _high, det) in rebuilt.items():
        assert (maintained[key][0], maintained[key][4]) == (n, det)
        assert maintained[key][1] == pytest.approx(total, abs=1e-9)


def test_feature_names_with_path_characters_round_trip(client, alice, experiment, db):
    from drift_backend.repositories.summaries import decode_path, encode_path

    for segments in (["a.b", "$c", "d%2E", "e/f"], [ODD_NAME, "p_value"], ["%", "%%25"]):
        name = encode_path(segments)
        assert not {".", "$"} & set(name)
        assert decode_path(name) == segments

    run = post(client, alice, experiment, job_status="Completed", parameters={ODD_NAME: 2.5},
               data_drift={"drift": True, "parameters": {"features": {ODD_NAME: {"p_value": 0.01, "drifted": True}}}})
    assert_digests_exact(db, experiment["id"], bounds_exact=True)

    heatmap = get(client, experiment, "heatmap", alice)
    assert heatmap["source"] == "summaries"
    assert heatmap["features"] == [ODD_NAME]
    assert [(cell["feature"], cell["runs"], cell["detected"], cell["mean"]) for cell in heatmap["cells"]] == [
        (ODD_NAME, 1, 1, 0.01)]
    assert get(client, experiment, "heatmap", alice, **LIVE)["cells"] == heatmap["cells"]
    assert get(client, experiment, "facets", alice)["features"]["data_drift"] == [ODD_NAME]
    assert run["parameters"] == {ODD_NAME: 2.5}


# Heatmap -------------------------------------------------------------------------------------------


def comparable(heatmap):
    return {**heatmap, "source": None, "since": None, "until": None,
            "cells": [{**cell, "mean": pytest.approx(cell["mean"])} for cell in heatmap["cells"]]}


@pytest.mark.parametrize("layout", ["features", "flat", "mixed"])
@pytest.mark.parametrize("params", [{}, {"statistic": "statistic", "interval": "week"}, {"model": "b"},
                                    {"detected": "true"}, {"since": "2026-05-06T00:00:00Z", "until": "2026-05-09"}])
def test_heatmap_from_digests_equals_the_heatmap_from_runs(client, alice, experiment, layout, params):
    rng = random.Random(4)
    for index in range(30):
        result_layout = layout if layout != "mixed" else ("features", "flat")[index % 2]
        post(client, alice, experiment, model=rng.choice("ab"), job_status=rng.choice(["Completed", "Failed"]),
             data_drift=features(rng, result_layout), created_at=iso(START + timedelta(hours=rng.uniform(0, 9 * 24))))

    digested = get(client, experiment, "heatmap", alice, **params)
    live = get(client, experiment, "heatmap", alice, **params, **LIVE)

    assert (digested["source"], live["source"]) == ("summaries", "runs")
    assert digested["features_total"] == 3 and digested["cells"]
    assert comparable(digested) == comparable(live)
    assert sum(cell["detected"] for cell in digested["cells"]) > 0


def test_heatmap_reads_detected_flags_of_both_layouts(client, alice, experiment):
    post(client, alice, experiment, created_at=iso(START), data_drift={"drift": True, "parameters": {
        "features": {"age": {"p_value": 0.01, "drifted": True}}, "zip": {"p_value": 0.5, "drift": True},
        "drift_share": 0.5}})

    for params in ({}, LIVE):
        heatmap = get(client, experiment, "heatmap", alice, **params)
        assert {cell["feature"]: cell["detected"] for cell in heatmap["cells"]} == {"age": 1, "zip": 1}


def test_day_ranges_are_whole_days_from_digests_and_exact_from_runs(client, alice, experiment):
    post(client, alice, experiment, created_at=iso(START + timedelta(hours=1)),
         data_drift={"drift": False, "parameters": {"features": {"age": {"p_value": 0.3}}}})
    window = {"since": iso(START + timedelta(hours=2)), "until": iso(START + timedelta(hours=3))}

    digested = get(client, experiment, "heatmap", alice, **window)
    live = get(client, experiment, "heatmap", alice, **window, **LIVE)

    assert (digested["since"], digested["until"]) == (iso(START), iso(START + timedelta(days=1)))
    assert [cell["runs"] for cell in digested["cells"]] == [1]
    assert (live["since"], live["until"], live["cells"]) == (window["since"], window["until"], [])


def test_runs_the_digests_do_not_hold_make_the_overviews_read_the_runs(client, alice, experiment):
    post(client, alice, experiment, created_at=iso(START),
         data_drift={"drift": False, "parameters": {"features": {"age": {"p_value": 0.3}}}})
    assert get(client, experiment, "heatmap", alice)["source"] == "summaries"
    # More numbers than a run's digest keeps.
    post(client, alice, experiment, created_at=iso(START), parameters={f"p{index}": index for index in range(301)},
         data_drift={"drift": False, "parameters": {"features": {"age": {"p_value": 0.5}}}})

    heatmap = get(client, experiment, "heatmap", alice)
    assert heatmap["source"] == "runs"
    assert [cell["runs"] for cell in heatmap["cells"]] == [2]


# Series --------------------------------------------------------------------------------------------


def test_downsampled_series_from_digests_has_each_days_count_min_max_and_mean(client, alice, experiment, db):
    rng = random.Random(9)
    runs = [post(client, alice, experiment, model=rng.choice("ab"), drift_detected=rng.random() < 0.3,
                 data_drift={"drift": False, "parameters": {"features": {"age": {"p_value": rng.random()}}}},
                 created_at=iso(START + timedelta(hours=rng.uniform(0, 4 * 24))))
            for _ in range(40)]
    parameter = "data_drift.parameters.features.age.p_value"

    series = get(client, experiment, "series", alice, parameter=parameter, points=10)

    assert (series["source"], series["downsampled"], series["matched"]) == ("summaries", True, 40)
    groups = defaultdict(list)
    for run in runs:
        groups[(run["created_at"][:10], run["drift_detected"])].append(run)
    expected = []
    for (day, detected), group in sorted(groups.items()):
        values = [run["data_drift"]["parameters"]["features"]["age"]["p_value"] for run in group]
        models = {run["model"] for run in group}
        expected.append({"created_at": f"{day}T00:00:00.000Z", "value": pytest.approx(sum(values) / len(values)),
                         "min": min(values), "max": max(values), "count": len(values), "drift_detected": detected,
                         "model": models.pop() if len(models) == 1 else None, "run_id": None})
    assert series["points"] == expected

    # Fewer runs than points: every run, from the runs.
    exact = get(client, experiment, "series", alice, parameter=parameter, points=100)
    assert (exact["source"], exact["downsampled"], exact["matched"]) == ("runs", False, 40)
    # More days than points / 2: consecutive days share a bucket.
    for day in range(5, 12):
        post(client, alice, experiment, parameters={"x": day}, created_at=iso(START + timedelta(days=day)))
        post(client, alice, experiment, parameters={"x": -day}, created_at=iso(START + timedelta(days=day)))
    coarse = get(client, experiment, "series", alice, parameter="parameters.x", points=10, model="model-1")
    assert coarse["source"] == "summaries"
    assert [(point["created_at"][:10], point["count"], point["min"], point["max"]) for point in coarse["points"]] == [
        ("2026-05-09", 4, -6.0, 6.0), ("2026-05-11", 4, -8.0, 8.0), ("2026-05-13", 4, -10.0, 10.0),
        ("2026-05-15", 2, -11.0, 11.0)]
