"""The shared filters: time windows, API arguments and the drift-search filter they become."""

import datetime as dt

import pytest

from dashboard.filters import CUSTOM_RANGE, DEFAULT_RANGE, Filters

TODAY = dt.date(2026, 11, 22)
UTC = dt.timezone.utc


def test_default_is_the_last_90_days_from_midnight_utc():
    filters = Filters()
    assert filters.range == DEFAULT_RANGE
    assert filters.window(TODAY) == (dt.datetime(2026, 8, 24, tzinfo=UTC), None)
    assert filters.search_filter(TODAY) == {"created_at": {"$gte": "2026-08-24T00:00:00.000Z"}}


def test_all_time_has_no_window_and_matches_everything():
    filters = Filters(range="All time")
    assert filters.window(TODAY) == (None, None)
    assert filters.search_filter(TODAY) == {}
    assert filters.api_arguments(TODAY) == {"since": None, "until": None, "models": None, "tags": None,
                                            "job_statuses": None, "drift_type": None, "detected": None}


def test_custom_dates_include_the_whole_end_day():
    filters = Filters(range=CUSTOM_RANGE, since=dt.date(2026, 1, 1), until=dt.date(2026, 1, 31))
    assert filters.window(TODAY) == (dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 2, 1, tzinfo=UTC))
    assert filters.search_filter(TODAY) == {
        "created_at": {"$gte": "2026-01-01T00:00:00.000Z", "$lt": "2026-02-01T00:00:00.000Z"}}
    assert filters.describe(TODAY) == "2026-01-01 to 2026-01-31"


def test_custom_range_open_on_one_side():
    assert Filters(range=CUSTOM_RANGE, until=dt.date(2026, 1, 31)).window(TODAY) == (
        None, dt.datetime(2026, 2, 1, tzinfo=UTC))
    assert Filters(range=CUSTOM_RANGE).window(TODAY) == (None, None)


def test_every_filter_becomes_api_arguments_and_one_search_filter():
    filters = Filters(range="Last 7 days", models=("m1", "m2"), tags=("nightly",), statuses=("Completed",),
                      drift_type="data", detected="yes")
    assert filters.api_arguments(TODAY) == {
        "since": dt.datetime(2026, 11, 15, tzinfo=UTC), "until": None, "models": ["m1", "m2"], "tags": ["nightly"],
        "job_statuses": ["Completed"], "drift_type": "data", "detected": True}
    assert filters.search_filter(TODAY) == {"$and": [
        {"created_at": {"$gte": "2026-11-15T00:00:00.000Z"}},
        {"model": {"$in": ["m1", "m2"]}},
        {"tags": {"$all": ["nightly"]}},
        {"job_status": {"$in": ["Completed"]}},
        {"data_drift.drift": True},
    ]}


@pytest.mark.parametrize(("drift_type", "detected", "condition"), [
    ("any", "yes", {"drift_detected": True}),
    ("any", "no", {"drift_detected": False}),
    ("concept", "any", {"concept_drift": {"$exists": True}}),
    ("concept", "no", {"concept_drift.drift": False}),
    ("data", "yes", {"data_drift.drift": True}),
])
def test_drift_type_and_detected_follow_the_api_rules(drift_type, detected, condition):
    filters = Filters(range="All time", drift_type=drift_type, detected=detected)
    assert filters.search_filter(TODAY) == condition
    arguments = filters.api_arguments(TODAY)
    assert arguments["drift_type"] == (None if drift_type == "any" else drift_type)
    assert arguments["detected"] == {"any": None, "yes": True, "no": False}[detected]


@pytest.mark.parametrize(("filters", "fragment"), [
    (Filters(range=CUSTOM_RANGE, since=dt.date(2026, 2, 1), until=dt.date(2026, 1, 1)), "after the end date"),
    (Filters(range="Last 3 weeks"), "unknown time range"),
    (Filters(statuses=("Paused",)), "unknown job status Paused"),
    (Filters(drift_type="model"), "unknown drift type"),
    (Filters(detected="maybe"), "'detected' must be one of"),
])
def test_invalid_filters_are_explained(filters, fragment):
    problems = filters.problems()
    assert len(problems) == 1 and fragment in problems[0]


def test_valid_filters_have_no_problems():
    assert Filters(range=CUSTOM_RANGE, since=dt.date(2026, 1, 1), until=dt.date(2026, 1, 1)).problems() == []


def test_describe_says_what_is_shown():
    filters = Filters(range="All time", models=("m1",), tags=("a", "b"), statuses=("Failed",), drift_type="concept",
                      detected="no")
    assert filters.describe(TODAY) == "all time · model m1 · tags a + b · status Failed · concept drift not detected"
    assert Filters().describe(TODAY) == "since 2026-08-24"
