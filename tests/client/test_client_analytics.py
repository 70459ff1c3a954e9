"""The client's overview methods against the real backend: summary, series, heatmap, facets, stats; run
searches with the same run filter, and searches one page at a time."""

from __future__ import annotations

import datetime as dt

import pytest
import drift_monitor
from drift_monitor import Page, ValidationError

DAY = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)  # a Monday


@pytest.fixture
def history(api, experiment):
    """Six runs over three days: two models, one tagged, results and per-feature statistics."""
    runs = []
    for index in range(6):
        runs.append(api.create_drift(
            experiment, model=f"m{index % 2}", job_status="Completed" if index < 5 else "Running",
            tags=["prod"] if index % 3 == 0 else [], drift_detected=index in (1, 2),
            parameters={"accuracy": 0.5 + index / 10},
            data_drift={"drift": index in (1, 2), "parameters": {
                "age": {"p_value": 0.01 * (index + 1), "drift": index in (1, 2)},
                "income": {"p_value": 0.5, "drift": False}}},
            created_at=DAY + dt.timedelta(hours=12 * index),
        ))
    return runs


def test_drift_summary_with_filters_as_keywords(api, experiment, history):
    summary = api.drift_summary(experiment, interval="day")

    assert summary.source == "summaries"
    assert summary.totals.runs == 6
    assert (summary.totals.completed, summary.totals.running) == (5, 1)
    assert summary.totals.drift_rate == pytest.approx(2 / 5)
    assert summary.models == ["m0", "m1"]
    assert [(bucket.start, bucket.model, bucket.runs) for bucket in summary.buckets] == [
        ("2026-06-01T00:00:00.000Z", "m0", 1), ("2026-06-01T00:00:00.000Z", "m1", 1),
        ("2026-06-02T00:00:00.000Z", "m0", 1), ("2026-06-02T00:00:00.000Z", "m1", 1),
        ("2026-06-03T00:00:00.000Z", "m0", 1), ("2026-06-03T00:00:00.000Z", "m1", 1),
    ]

    narrowed = api.drift_summary(experiment, since=dt.date(2026, 6, 2), until="2026-06-03T00:00:00Z",
                                 models="m1", job_statuses=["Completed"], drift_type="data", detected=False)
    assert narrowed.since == "2026-06-02T00:00:00.000Z"
    assert narrowed.totals.runs == 1  # index 3: m1, Completed, no data drift
    tagged = api.drift_summary(experiment, tags=["prod"], interval="week")
    assert (tagged.source, tagged.interval, tagged.totals.runs) == ("runs", "week", 2)
    assert api.drift_summary(experiment, detected=True).totals.drift_detected == 2
    assert api.drift_summary(experiment, stuck_after_minutes=1).totals.stuck == 1


def test_parameter_series_and_versus(api, experiment, history):
    series = api.parameter_series(experiment, "parameters.accuracy", models=["m0"])

    assert series.matched == 3 and not series.downsampled
    assert [point.run_id for point in series.points] == [run.id for run in history if run.model == "m0"]
    assert [point.value for point in series.points] == pytest.approx([0.5, 0.7, 0.9])

    pairs = api.parameter_series(experiment, "parameters.accuracy", versus="data_drift.parameters.age.p_value",
                                 since=DAY + dt.timedelta(hours=12))
    assert pairs.matched == 5
    assert [point.run_id for point in pairs.points] == [run.id for run in history[1:]]
    assert [point.x for point in pairs.points] == [run.parameters["accuracy"] for run in history[1:]]
    assert [point.y for point in pairs.points] == [run.data_drift["parameters"]["age"]["p_value"]
                                                   for run in history[1:]]


def test_feature_heatmap(api, experiment, history):
    heatmap = api.feature_heatmap(experiment, interval="week", max_features=1)

    assert heatmap.features == ["age"] and heatmap.features_total == 2
    [cell] = heatmap.cells
    assert (cell.feature, cell.start, cell.runs, cell.detected) == ("age", "2026-06-01T00:00:00.000Z", 6, 2)
    assert cell.mean == pytest.approx(sum(0.01 * (index + 1) for index in range(6)) / 6)


def test_drift_facets(api, experiment, history):
    facets = api.drift_facets(experiment, sample=10)

    assert facets.models == ["m0", "m1"]
    assert facets.tags == ["prod"]
    assert "parameters.accuracy" in facets.parameters
    assert facets.features.data_drift == ["age", "income"]
    assert facets.statistics == ["p_value"]
    assert facets.sampled_runs == 6


def test_search_experiments_with_stats(api, experiment, history):
    [found] = [item for item in api.search_experiments({"name": experiment["name"]}, with_stats=True)]
    assert found.stats["runs"] == 6
    assert found.stats["drift_rate"] == pytest.approx(2 / 5)
    assert found.stats["last_run_at"] == history[-1].created_at
    [plain] = list(api.search_experiments({"name": experiment["name"]}))
    assert "stats" not in plain


RUN_FILTERS = [
    {},
    {"models": "m1"},
    {"since": DAY + dt.timedelta(days=1), "until": dt.date(2026, 6, 3)},  # whole days, as the summary counts
    {"tags": ["prod"]},
    {"job_statuses": ["Running", "Failed"]},
    {"detected": True},
    {"drift_type": "data", "detected": False, "models": ["m0", "m1"]},
]


@pytest.mark.parametrize("run_filter", RUN_FILTERS, ids=[str(sorted(f)) for f in RUN_FILTERS])
def test_searches_take_the_overviews_run_filter(api, experiment, history, run_filter):
    summary = api.drift_summary(experiment, **run_filter)
    found = api.get_drifts(experiment, **run_filter)
    page = api.drifts_page(experiment, **run_filter)

    assert [run.id for run in found] == [run.id for run in page.items]
    assert summary.totals.runs == len(found) == page.total


def test_run_filter_and_a_query_language_filter_both_apply(api, experiment, history):
    runs = list(api.iter_drifts(experiment, {"model": "m0"}, since=DAY + dt.timedelta(hours=12), detected=False,
                                order_by="desc"))

    expected = [run for run in reversed(history) if run.model == "m0" and run.created_at >= "2026-06-01T12"
                and not run.drift_detected]
    assert [run.id for run in runs] == [run.id for run in expected] and expected
    assert drift_monitor.get_drifts(experiment, {"model": "m0"}, client=api) == [
        run for run in history if run.model == "m0"]


def test_drifts_page_returns_items_total_and_page(api, experiment, history):
    first = api.drifts_page(experiment, page_size=4)
    second = api.drifts_page(experiment, page=2, page_size=4)
    newest = api.drifts_page(experiment, page_size=2, order_by="desc", models="m1")
    beyond = api.drifts_page(experiment, page=5, page_size=4)

    assert isinstance(first, Page)
    assert (first.total, first.page, first.page_size, first.pages) == (6, 1, 4, 2)
    assert [run.id for run in first.items + second.items] == [run.id for run in history]
    assert (second.total, second.page, len(second.items)) == (6, 2, 2)
    assert [run.id for run in newest.items] == [history[5].id, history[3].id] and newest.total == 3
    assert (beyond.items, beyond.total) == ([], 6)


def test_experiments_page_returns_items_total_and_page(api, experiment, history):
    others = [api.create_experiment(f"{experiment['name']}-{index}") for index in range(2)]
    mine = {"name": {"$regex": f"^{experiment['name']}"}}

    first = api.experiments_page(mine, page_size=2, sort_by="name", order_by="asc", with_stats=True)
    second = api.experiments_page(mine, page=2, page_size=2, sort_by="name", order_by="asc")

    assert (first.total, first.page, first.page_size, first.pages) == (3, 1, 2, 2)
    assert [item.name for item in first.items + second.items] == [experiment["name"], *(o.name for o in others)]
    assert first.items[0].stats["runs"] == 6 and "stats" not in second.items[0]
    assert api.experiments_page({"name": "no such experiment"}).total == 0


def test_a_page_beyond_the_servers_limit_is_a_validation_error(api, experiment):
    with pytest.raises(ValidationError):
        api.drifts_page(experiment, page_size=1000)
    with pytest.raises(TypeError):
        api.drifts_page(experiment, model="m0")  # the keyword is models


def test_bad_arguments_raise_validation_errors(api, experiment):
    with pytest.raises(ValidationError) as raised:
        api.parameter_series(experiment, "accuracy")
    assert raised.value.status == 422
    assert "parameter" in str(raised.value.errors)
    with pytest.raises(ValidationError):
        api.drift_summary(experiment, interval="fortnight")
    with pytest.raises(TypeError):
        api.parameter_series(experiment, "parameters.x", model="m0")  # the keyword is models
