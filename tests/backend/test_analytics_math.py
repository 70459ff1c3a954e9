"""Unit tests of the overviews' arithmetic (drift_backend.overview_math): buckets, intervals, downsampling, ranking."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from drift_backend.overview_math import (
    MAX_BUCKETS,
    bucket_count,
    bucket_start,
    choose_interval,
    digest_series_points,
    heatmap_cells,
    rank_features,
    run_bucket_width,
    span,
    summarise,
    summary_counts,
)

UTC = timezone.utc


def day(month: int, dom: int, year: int = 2026) -> datetime:
    return datetime(year, month, dom, tzinfo=UTC)


# Intervals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("moment, interval, start", [
    (datetime(2026, 2, 18, 17, 5, tzinfo=UTC), "day", day(2, 18)),
    (datetime(2026, 2, 18, 17, 5, tzinfo=UTC), "week", day(2, 16)),   # a Wednesday: its Monday
    (day(2, 16), "week", day(2, 16)),
    (day(2, 18), "month", day(2, 1)),
    (datetime(2026, 3, 1, 1, tzinfo=timezone(timedelta(hours=3))), "month", day(2, 1)),  # 28 Feb in UTC
    (day(1, 1), "week", datetime(2025, 12, 29, tzinfo=UTC)),          # a week across the year's end
])
def test_bucket_start(moment, interval, start):
    assert bucket_start(moment, interval) == start


@pytest.mark.parametrize("first, last, interval, count", [
    (day(2, 18), day(2, 18), "day", 1),
    (day(2, 1), day(2, 28), "day", 28),
    (day(2, 15), day(2, 16), "week", 2),     # Sunday, then Monday
    (day(2, 16), day(2, 22), "week", 1),
    (day(11, 30, 2025), day(2, 1), "month", 4),
])
def test_bucket_count(first, last, interval, count):
    assert bucket_count(first, last, interval) == count


@pytest.mark.parametrize("days, interval", [
    (1, "day"),
    (MAX_BUCKETS, "day"),
    (MAX_BUCKETS + 1, "week"),
    (7 * (MAX_BUCKETS - 1), "week"),
    (7 * (MAX_BUCKETS + 1), "month"),
    (365 * 30, "month"),   # past every interval's limit: the coarsest
])
def test_auto_picks_the_finest_interval_with_at_most_max_buckets(days, interval):
    first = day(1, 5)  # a Monday, so that weeks start with the span
    assert choose_interval("auto", first, first + timedelta(days=days - 1)) == interval


def test_an_explicit_interval_is_kept_and_auto_without_data_is_day():
    assert choose_interval("month", day(1, 1), day(1, 2)) == "month"
    assert choose_interval("auto", None, None) == "day"


def test_span_is_the_window_else_the_data():
    assert span(day(2, 1), day(3, 1), [day(2, 10)]) == (day(2, 1), day(3, 1) - timedelta(milliseconds=1))
    assert span(None, None, [day(2, 10), day(2, 3)]) == (day(2, 3), day(2, 10))
    assert span(day(2, 1), None, []) == (day(2, 1), day(2, 1))
    assert span(None, None, []) == (None, None)


# Summary ---------------------------------------------------------------------------------------


def row(when: datetime, model="m", status="Completed", concept=None, data=None, detected=False, runs=1):
    return {"day": when, "model": model, "job_status": status, "concept": concept, "data": data,
            "drift_detected": detected, "runs": runs, "first_created_at": when + timedelta(hours=1),
            "last_created_at": when + timedelta(hours=2)}


def test_summary_counts_of_a_row():
    assert summary_counts(row(day(2, 1), status="Running", concept=True, data=False, detected=True, runs=3)) == {
        "runs": 3, "running": 3, "completed": 0, "failed": 0, "drift_detected": 3, "concept_detected": 3,
        "concept_not_detected": 0, "data_detected": 0, "data_not_detected": 3}


def test_summarise_totals_and_buckets_per_start_and_model():
    rows = [row(day(2, 16), detected=True, runs=2), row(day(2, 18), status="Failed"),
            row(day(2, 17), model="b", detected=True), row(day(2, 23), runs=0)]

    totals, buckets = summarise(rows, "week")

    assert (totals["runs"], totals["completed"], totals["failed"], totals["drift_detected"]) == (4, 3, 1, 3)
    assert totals["completed_detected"] == 3
    assert (totals["first_run_at"], totals["last_run_at"]) == (day(2, 16) + timedelta(hours=1),
                                                               day(2, 18) + timedelta(hours=2))
    # The week of 23 Feb only holds an empty row: no bucket.
    assert [(bucket["start"], bucket["model"], bucket["runs"]) for bucket in buckets] == [
        (day(2, 16), "b", 1), (day(2, 16), "m", 3)]


# Series ----------------------------------------------------------------------------------------


def test_run_buckets_cover_the_range_in_half_the_points():
    first = day(2, 1)
    buckets, width_ms = run_bucket_width(first, first + timedelta(seconds=99), 20)

    assert buckets == 10
    assert width_ms * buckets > 99_000  # the last run falls in the last bucket
    assert run_bucket_width(first, first, 1) == (1, 1)


def entry(when: datetime, n=1, total=1.0, low=1.0, high=1.0, detected=False, model="m"):
    return {"day": when, "model": model, "drift_detected": detected, "n": n, "sum": total, "min": low, "max": high}


def test_digest_series_keeps_days_while_they_fit():
    points = digest_series_points([entry(day(2, 1), n=2, total=3.0, low=1.0, high=2.0),
                                   entry(day(2, 2), detected=True)], points=10)

    assert [(point["created_at"], point["drift_detected"], point["count"], point["value"]) for point in points] == [
        (day(2, 1), False, 2, 1.5), (day(2, 2), True, 1, 1.0)]
    assert all(point["run_id"] is None for point in points)


def test_digest_series_merges_consecutive_days_into_wider_buckets():
    entries = [entry(day(2, 1) + timedelta(days=offset), model=f"m{offset % 2}") for offset in range(10)]

    points = digest_series_points(entries, points=4)  # 2 buckets: 5 days each

    assert [(point["created_at"], point["count"]) for point in points] == [(day(2, 1), 5), (day(2, 6), 5)]
    assert {point["model"] for point in points} == {None}  # several models in a bucket


def test_a_digest_mean_is_clamped_into_its_bounds():
    [point] = digest_series_points([entry(day(2, 1), n=3, total=3.0000000001, low=0.5, high=1.0)], points=10)
    assert point["value"] == 1.0


# Heatmap ---------------------------------------------------------------------------------------


def test_features_rank_by_detections_then_extremity_then_name():
    features = {"a": {"runs": 2, "sum": 0.2, "detected": 1}, "b": {"runs": 1, "sum": 0.9, "detected": 1},
                "c": {"runs": 1, "sum": 0.5, "detected": 3}, "d": {"runs": 1, "sum": 0.1, "detected": 1}}

    assert rank_features(features, "p_value") == ["c", "a", "d", "b"]      # low p-values first
    assert rank_features(features, "distance") == ["c", "b", "a", "d"]     # high distances first
    tied = {"y": {"runs": 1, "sum": 1.0, "detected": 0}, "x": {"runs": 1, "sum": 1.0, "detected": 0}}
    assert rank_features(tied, "p_value") == ["x", "y"]


def heat(feature, when, runs=1, total=0.5, low=0.5, high=0.5, detected=0):
    return {"feature": feature, "day": when, "runs": runs, "sum": total, "min": low, "max": high,
            "detected": detected}


def test_heatmap_cells_per_feature_and_bucket_of_the_shown_features():
    rows = [heat("age", day(2, 16), detected=1, low=0.1), heat("age", day(2, 18), runs=2, total=1.0, high=0.9),
            heat("income", day(2, 17)), heat("zip", day(2, 16), total=0.9, low=0.9, high=0.9)]

    shown, total, cells = heatmap_cells(rows, "p_value", "week", max_features=2)

    assert (shown, total) == (["age", "income"], 3)
    assert cells == [
        {"feature": "age", "start": day(2, 16), "mean": 0.5, "min": 0.1, "max": 0.9, "runs": 3, "detected": 1},
        {"feature": "income", "start": day(2, 16), "mean": 0.5, "min": 0.5, "max": 0.5, "runs": 1, "detected": 0},
    ]


def test_heatmap_cells_are_in_feature_order_then_time():
    rows = [heat("b", day(2, 2), detected=1), heat("a", day(2, 1)), heat("b", day(2, 1), detected=1)]

    shown, _total, cells = heatmap_cells(rows, "p_value", "day", max_features=40)

    assert shown == ["b", "a"]
    assert [(cell["feature"], cell["start"]) for cell in cells] == [("b", day(2, 1)), ("b", day(2, 2)),
                                                                    ("a", day(2, 1))]
