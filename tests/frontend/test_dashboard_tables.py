"""Tables of the dashboard and the exports of drift runs."""

import csv
import io
import json

import pandas as pd
import pytest

from dashboard import tables

RUNS = [
    {"id": "r2", "experiment_id": "e", "created_at": "2026-11-21T10:00:00.000Z", "model": "m2",
     "job_status": "Completed", "tags": ["nightly", "prod"], "drift_detected": True, "parameters": {"n": 5},
     "data_drift": {"drift": True, "parameters": {"age": {"p_value": 0.01, "drift": True}}}},
    {"id": "r1", "experiment_id": "e", "created_at": "2026-11-20T10:00:00.000Z", "model": "m1",
     "job_status": "Running", "tags": [], "drift_detected": False, "parameters": {}},
]


def test_experiments_frame_has_badges_and_statistics():
    frame = tables.experiments_frame([
        {"id": "a", "name": "alpha", "public": True, "description": "d",
         "stats": {"runs": 10, "drift_rate": 0.25, "last_run_at": "2026-11-21T10:00:00.000Z"}},
        {"id": "b", "name": "beta", "public": False},
    ])
    assert list(frame.columns) == tables.EXPERIMENT_COLUMNS
    assert list(frame["visibility"]) == ["public", "private"]
    assert list(frame["runs"]) == [10, 0]
    assert frame.loc[0, "drift_share"] == 0.25 and pd.isna(frame.loc[1, "drift_share"])
    assert frame.loc[0, "last_run"] == pd.Timestamp("2026-11-21T10:00:00Z") and pd.isna(frame.loc[1, "last_run"])


def test_empty_frames_keep_their_columns():
    assert list(tables.experiments_frame([]).columns) == tables.EXPERIMENT_COLUMNS
    assert list(tables.runs_frame([]).columns) == tables.RUN_COLUMNS
    assert tables.stuck_runs_frame([]).empty


def test_runs_frame_summarises_each_run():
    frame = tables.runs_frame(RUNS)
    assert list(frame["id"]) == ["r2", "r1"]
    assert list(frame["data_drift"]) == ["detected", ""] and list(frame["concept_drift"]) == ["", ""]
    assert list(frame["tags"]) == ["nightly, prod", ""]
    assert str(frame["created_at"].dt.tz) == "UTC"


def test_format_time():
    assert tables.format_time("2026-11-21T10:05:59.123Z") == "2026-11-21 10:05"
    assert tables.format_time(None) == "—"


@pytest.mark.parametrize(("value", "said"), [
    ("2026-11-22T11:59:30.000Z", "just now"),
    ("2026-11-22T11:15:00.000Z", "45 min ago"),
    ("2026-11-21T00:00:00.000Z", "36 h ago"),
    ("2026-11-01T12:00:00.000Z", "21 days ago"),
    (None, "—"),
])
def test_time_ago(value, said):
    assert tables.time_ago(value, now=pd.Timestamp("2026-11-22T12:00:00Z")) == said


def test_permissions_frame_marks_the_viewer():
    frame = tables.permissions_frame([{"entity": "u1", "level": "Manage"}, {"entity": "group", "level": "Read"}],
                                     own_entities=["u1"])
    assert frame.to_dict("records") == [{"entity": "u1", "level": "Manage", "you": True},
                                        {"entity": "group", "level": "Read", "you": False}]


def test_json_export_is_the_runs_as_returned():
    assert json.loads(tables.export_json(RUNS)) == RUNS


def test_csv_export_has_a_column_per_dotted_path_and_parses_back():
    rows = list(csv.DictReader(io.StringIO(tables.export_csv(RUNS).decode())))
    assert [row["id"] for row in rows] == ["r2", "r1"]
    header = list(rows[0])
    assert header[:5] == ["id", "created_at", "model", "job_status", "drift_detected"]
    assert rows[0]["data_drift.parameters.age.p_value"] == "0.01"
    assert json.loads(rows[0]["tags"]) == ["nightly", "prod"]
    assert rows[1]["data_drift.parameters.age.p_value"] == ""


def test_exports_of_nothing():
    assert tables.export_csv([]) == b"\n"
    assert json.loads(tables.export_json([])) == []
