"""Figures of the dashboard, built from plain API answers."""

from dashboard import charts

BUCKETS = [
    {"start": "2026-11-20T00:00:00.000Z", "model": "m1", "runs": 3, "running": 1, "completed": 2, "failed": 0,
     "drift_detected": 1, "concept_detected": 0, "concept_not_detected": 1, "data_detected": 1,
     "data_not_detected": 1},
    {"start": "2026-11-20T00:00:00.000Z", "model": "m2", "runs": 1, "running": 0, "completed": 0, "failed": 1,
     "drift_detected": 0, "concept_detected": 0, "concept_not_detected": 0, "data_detected": 0,
     "data_not_detected": 0},
    {"start": "2026-11-21T00:00:00.000Z", "model": "m1", "runs": 2, "running": 0, "completed": 2, "failed": 0,
     "drift_detected": 2, "concept_detected": 2, "concept_not_detected": 0, "data_detected": 0,
     "data_not_detected": 2},
]


def test_drift_timeline_shows_concept_and_data_apart_per_model():
    figure = charts.drift_timeline(BUCKETS, "day")
    assert figure.layout.title.text == "Drift timeline"
    assert [a.text for a in figure.layout.annotations] == ["Concept drift", "Data drift"]
    assert figure.layout.barmode == "relative"
    # model × (concept, data) × (detected, not detected)
    assert len(figure.data) == 2 * 2 * 2
    by_key = {(t.name, t.yaxis): t for t in figure.data}
    concept_detected_m1 = by_key[("m1 · detected", "y")]
    assert list(concept_detected_m1.y) == [0, 2] and concept_detected_m1.marker.color == charts.DETECTED_COLOUR
    data_not_detected_m1 = by_key[("m1 · not detected", "y2")]
    assert list(data_not_detected_m1.y) == [1, 2]
    assert {t.offsetgroup for t in figure.data} == {"m1", "m2"}
    # One legend entry per model and outcome, not one per row.
    assert sum(bool(t.showlegend) for t in figure.data) == 4
    assert len({t.marker.pattern.shape for t in figure.data}) == 2


def test_drift_timeline_of_nothing_is_an_empty_figure():
    figure = charts.drift_timeline([])
    assert figure.layout.title.text == "Drift timeline" and len(figure.data) == 0


def test_job_status_adds_up_the_models():
    frame = charts.job_status_frame(BUCKETS)
    assert frame.to_dict("list")["failed"] == [1, 0]
    assert frame.to_dict("list")["completed"] == [2, 2]
    figure = charts.job_status_figure(BUCKETS)
    assert [t.name for t in figure.data] == ["Completed", "Failed", "Running"]
    assert figure.layout.barmode == "stack"


def test_parameter_over_time_colours_detected_runs():
    series = {"parameter": "parameters.accuracy", "versus": None, "matched": 3, "downsampled": False, "points": [
        {"created_at": "2026-11-20T00:00:00.000Z", "value": 0.9, "min": 0.9, "max": 0.9, "count": 1,
         "drift_detected": False, "model": "m1", "run_id": "a"},
        {"created_at": "2026-11-21T00:00:00.000Z", "value": 0.7, "min": 0.7, "max": 0.7, "count": 1,
         "drift_detected": True, "model": "m1", "run_id": "b"},
        {"created_at": "2026-11-22T00:00:00.000Z", "value": 0.8, "min": 0.8, "max": 0.8, "count": 1,
         "drift_detected": False, "model": "m1", "run_id": "c"},
    ]}
    figure = charts.parameter_figure(series, log_scale=True)
    no_drift, drift = figure.data
    assert (no_drift.name, list(no_drift.y)) == ("no drift", [0.9, 0.8])
    assert (drift.name, list(drift.y), drift.marker.color) == ("drift detected", [0.7], charts.DETECTED_COLOUR)
    assert figure.layout.yaxis.type == "log"
    assert no_drift.error_y.array is None


def test_downsampled_points_carry_their_range():
    series = {"parameter": "p", "versus": None, "matched": 5000, "downsampled": True, "points": [
        {"created_at": "2026-11-20T00:00:00.000Z", "value": 0.5, "min": 0.1, "max": 0.9, "count": 2500,
         "drift_detected": False, "model": None, "run_id": None}]}
    trace = charts.parameter_figure(series).data[0]
    assert list(trace.error_y.array) == [0.4] and list(trace.error_y.arrayminus) == [0.4]


def test_parameter_against_another():
    # The API pairs x = parameter with y = versus; the chosen parameter is drawn on the vertical axis.
    series = {"parameter": "accuracy", "versus": "n", "matched": 2, "downsampled": False, "points": [
        {"x": 0.9, "y": 100, "created_at": "2026-11-20T00:00:00.000Z", "drift_detected": True, "model": "m",
         "run_id": "a"},
        {"x": 0.8, "y": 200, "created_at": "2026-11-21T00:00:00.000Z", "drift_detected": False, "model": "m",
         "run_id": "b"}]}
    figure = charts.parameter_figure(series, log_scale=True)
    assert figure.layout.title.text == "accuracy against n"
    assert [list(t.x) for t in figure.data] == [[200], [100]]
    assert [list(t.y) for t in figure.data] == [[0.8], [0.9]]
    assert figure.layout.xaxis.title.text == "n" and figure.layout.yaxis.title.text == "accuracy"
    assert figure.layout.xaxis.type == "log" and figure.layout.yaxis.type == "log"


HEATMAP = {"result": "data_drift", "statistic": "p_value", "interval": "day", "features": ["income", "age"],
           "features_total": 2, "cells": [
               {"feature": "age", "start": "2026-11-20T00:00:00.000Z", "mean": 0.5, "min": 0.4, "max": 0.6,
                "runs": 2, "detected": 0},
               {"feature": "income", "start": "2026-11-20T00:00:00.000Z", "mean": 0.01, "min": 0.0, "max": 0.02,
                "runs": 2, "detected": 2},
               {"feature": "income", "start": "2026-11-21T00:00:00.000Z", "mean": 0.02, "min": 0.02, "max": 0.02,
                "runs": 1, "detected": 1}]}


def test_heatmap_has_features_by_buckets_with_detected_counts():
    figure = charts.heatmap_figure(HEATMAP)
    heatmap = figure.data[0]
    assert list(heatmap.y) == ["income", "age"]
    assert len(heatmap.x) == 2
    assert heatmap.z[0][0] == 0.01 and heatmap.z[1][0] == 0.5
    assert heatmap.customdata[0][1][0] == 1  # income, second day: detected in 1 run
    assert "drift detected in" in heatmap.hovertemplate
    assert figure.layout.yaxis.autorange == "reversed"


def test_heatmap_without_cells_is_none():
    assert charts.heatmap_figure({**HEATMAP, "features": [], "features_total": 0, "cells": []}) is None


def test_low_values_alarm_only_for_p_values():
    assert charts.low_values_alarm("p_value") and charts.low_values_alarm("p_value_adjusted")
    assert not charts.low_values_alarm("psi") and not charts.low_values_alarm("statistic")
