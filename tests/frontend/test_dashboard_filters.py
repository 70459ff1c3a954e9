"""The shared filters: time windows and the client's run-filter keywords they become (overviews and run search)."""

import datetime as dt

import pytest

from dashboard.filters import CUSTOM_RANGE, DEFAULT_RANGE, Filters

TODAY = dt.date(2026, 11, 22)
UTC = dt.timezone.utc


def test_default_is_the_last_90_days_from_midnight_utc():
    filters = Filters()
    assert filters.range == DEFAULT_RANGE
    assert filters.window(TODAY) == (dt.datetime(2026, 8, 24, tzinfo=UTC), None)
    assert filters.api_arguments(TODAY)["since"] == dt.datetime(2026, 8, 24, tzinfo=UTC)


def test_all_time_has_no_window_and_matches_everything():
    filters = Filters(range="All time")
    assert filters.window(TODAY) == (None, None)
    assert filters.api_arguments(TODAY) == {"since": None, "until": None, "models": None, "tags": None,
                                            "job_statuses": None, "drift_type": None, "detected": None}


def test_custom_dates_include_the_whole_end_day():
    filters = Filters(range=CUSTOM_RANGE, since=dt.date(2026, 1, 1), until=dt.date(2026, 1, 31))
    assert filters.window(TODAY) == (dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 2, 1, tzinfo=UTC))
    assert {key: filters.api_arguments(TODAY)[key] for key in ("since", "until")} == {
        "since": dt.datetime(2026, 1, 1, tzinfo=UTC), "until": dt.datetime(2026, 2, 1, tzinfo=UTC)}
    assert filters.describe(TODAY) == "2026-01-01 to 2026-01-31"


def test_custom_range_open_on_one_side():
    assert Filters(range=CUSTOM_RANGE, until=dt.date(2026, 1, 31)).window(TODAY) == (
        None, dt.datetime(2026, 2, 1, tzinfo=UTC))
    assert Filters(range=CUSTOM_RANGE).window(TODAY) == (None, None)


def test_every_filter_becomes_a_run_filter_keyword():
    filters = Filters(range="Last 7 days", models=("m1", "m2"), tags=("nightly",), statuses=("Completed",),
                      drift_type="data", detected="yes")
    assert filters.api_arguments(TODAY) == {
        "since": dt.datetime(2026, 11, 15, tzinfo=UTC), "until": None, "models": ["m1", "m2"], "tags": ["nightly"],
        "job_statuses": ["Completed"], "drift_type": "data", "detected": True}


@pytest.mark.parametrize(("drift_type", "detected"), [
    ("any", "yes"), ("any", "no"), ("concept", "any"), ("concept", "no"), ("data", "yes"), ("any", "any"),
])
def test_drift_type_and_detected_follow_the_api_rules(drift_type, detected):
    filters = Filters(range="All time", drift_type=drift_type, detected=detected)
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
