"""An experiment's views against a real backend: overview, shared filters, parameters, heatmap and runs."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import uuid

import numpy
import plotly.graph_objects as go
import plotly.io
import pytest
from drift_monitor import Client

from dashboard import api
from dashboard.filters import Filters

NOW = dt.datetime.now(dt.timezone.utc)


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def table(app, column: str):
    """The page's table that has ``column`` (st.dataframe keeps no key without selections)."""
    [frame] = [element.value for element in app.dataframe if column in element.value.columns]
    return frame


def metrics(app) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def figures(app) -> dict[str, go.Figure]:
    """The page's plotly figures by title."""
    found = {}
    for chart in app.get("plotly_chart"):
        figure = plotly.io.from_json(chart.proto.spec)
        found[figure.layout.title.text] = figure
    return found


def values(array) -> list:
    """A trace's data, also when the figure's JSON carries it as a typed array ({"bdata", "dtype"})."""
    if isinstance(array, dict) and "bdata" in array:
        return numpy.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def features(age_p: float, income_p: float) -> dict:
    return {"age": {"p_value": age_p, "statistic": 1 - age_p, "drift": age_p < 0.05},
            "income": {"p_value": income_p, "statistic": 1 - income_p, "drift": income_p < 0.05}}


@pytest.fixture(scope="module")
def world(make_person):
    """An owner's private experiment with runs of two models over the last days (and one 120 days ago),
    an experiment without runs, one whose runs have no per-feature statistics, and a stranger."""
    owner, stranger = make_person(), make_person()
    experiment = owner.api.create_experiment(f"views-{uuid.uuid4().hex[:8]}", "drift over the last days")
    empty = owner.api.create_experiment(f"empty-{uuid.uuid4().hex[:8]}")
    plain = owner.api.create_experiment(f"plain-{uuid.uuid4().hex[:8]}")

    def days_ago(days: float) -> dt.datetime:
        return NOW - dt.timedelta(days=days)

    for day in (1, 2, 3, 4, 5):
        drifting = day <= 2
        owner.api.create_drift(
            experiment, model="m1", job_status="Completed", created_at=days_ago(day),
            tags=["nightly"] if day <= 3 else ["weekly"],
            parameters={"accuracy": round(0.9 - 0.02 * day, 3), "n_current": 100 + day},
            data_drift={"drift": drifting, "parameters": features(0.01 if drifting else 0.4, 0.5)},
            concept_drift={"drift": day == 1, "parameters": {"accuracy_drop": 0.1}} if day in (1, 3) else None)
    owner.api.create_drift(experiment, model="m2", job_status="Failed", created_at=days_ago(2), tags=["nightly"])
    owner.api.create_drift(experiment, model="m2", job_status="Running", created_at=days_ago(1))
    owner.api.create_drift(experiment, model="m2", job_status="Completed", created_at=days_ago(3),
                           parameters={"accuracy": 0.85}, data_drift={"drift": False, "parameters": features(0.6, 0.7)})
    owner.api.create_drift(experiment, model="m1", job_status="Completed", created_at=days_ago(120),
                           parameters={"accuracy": 0.95}, data_drift={"drift": False, "parameters": features(0.9, 0.9)})
    owner.api.create_drift(plain, model="m1", job_status="Completed", data_drift={"drift": False,
                                                                                  "parameters": {"psi": 0.05}})
    return {"owner": owner, "stranger": stranger, "experiment": experiment, "empty": empty, "plain": plain}


@pytest.fixture
def overview(open_app, world):
    def open_(person=None, **query):
        return open_app("overview", person or world["owner"], {"experiment": world["experiment"]["id"], **query})

    return open_


def test_overview_headline_timeline_and_job_status(overview, world):
    app = overview()
    assert world["experiment"]["name"] in texts(app.title)
    expected = world["owner"].api.drift_summary(world["experiment"]["id"],
                                                **Filters().api_arguments(NOW.date()))["totals"]
    shown = metrics(app)
    assert shown["Runs"] == "8" == str(expected["runs"])  # the run of 120 days ago is outside the last 90 days
    assert shown["Drift rate"] == f"{expected['drift_rate']:.1%}" == "33.3%"  # 2 of 6 completed runs
    assert shown["Running"] == "1" and shown["Failed"] == "1" and shown["Stuck in Running"] == "1"
    assert shown["Last run"] == "24 h ago"  # the Running run, reported a day ago

    charts = figures(app)
    timeline = charts["Drift timeline"]
    assert [annotation.text for annotation in timeline.layout.annotations] == ["Concept drift", "Data drift"]
    assert {trace.name for trace in timeline.data} == {"m1 · detected", "m1 · not detected",
                                                             "m2 · detected", "m2 · not detected"}
    assert "Job status" in charts
    assert list(table(app, "model")["model"]) == ["m2"]  # the runs stuck in Running
    # The models the summary named are offered in the sidebar in the same run of the app.
    assert {"m1", "m2"} <= set(app.multiselect(key="model").options)
    assert not app.error


def test_overview_makes_only_the_experiment_and_summary_calls(overview, world, monkeypatch):
    app = overview(range="Last 30 days")
    calls = []
    original = Client.request

    def spy(self, method, path, **kwargs):
        calls.append((method, path))
        return original(self, method, path, **kwargs)

    monkeypatch.setattr(Client, "request", spy)
    app.radio(key="detected").set_value("yes").run()  # a new filter: nothing cached for it yet
    experiment_id = world["experiment"]["id"]
    assert calls == [("GET", f"/experiment/{experiment_id}/drift/summary")]  # the experiment is cached

    calls.clear()
    fresh = overview(range="Last 7 days")  # a new session: whoami once, then exactly these two
    assert sorted(calls) == [("GET", f"/experiment/{experiment_id}"),
                             ("GET", f"/experiment/{experiment_id}/drift/summary"),
                             ("GET", "/user/self"),
                             ("POST", "/experiment/search")]  # the Experiments page opened first
    assert metrics(fresh)["Runs"]


FILTER_QUERIES = [
    ({"range": "All time"}, 9),
    ({"model": ["m2"]}, 3),
    ({"status": ["Failed", "Running"]}, 2),
    ({"detected": "yes"}, 2),
    ({"drift_type": "concept"}, 2),
    ({"drift_type": "concept", "detected": "no"}, 1),
    ({"tag": ["nightly"]}, 4),
    ({"range": "All time", "model": ["m1"], "drift_type": "data", "detected": "no"}, 4),
]


@pytest.mark.parametrize(("query", "runs"), FILTER_QUERIES)
def test_filters_in_the_url_change_the_figures(overview, query, runs):
    app = overview(**query)
    assert metrics(app)["Runs"] == str(runs)


@pytest.mark.parametrize(("query", "runs"), FILTER_QUERIES)
def test_the_runs_page_lists_the_runs_the_overview_counts(open_app, world, query, runs):
    app = open_app("runs", world["owner"], {"experiment": world["experiment"]["id"], **query})
    assert any(text.startswith(f"{runs} runs: ") for text in texts(app.caption)), texts(app.caption)
    assert len(table(app, "job_status")) == runs


def test_custom_dates_and_an_invalid_range(overview):
    day = (NOW - dt.timedelta(days=120)).date().isoformat()
    app = overview(range="Custom dates", since=day, until=day)
    assert metrics(app)["Runs"] == "1"
    app = overview(range="Custom dates", since="2026-02-01", until="2026-01-01")
    [error] = texts(app.error)
    assert error.startswith("Invalid filter") and "after the end date" in error
    assert not app.metric


def test_a_filter_the_api_refuses_is_explained(overview):
    [error] = texts(overview(tag=["a-tag-longer-than-twenty-characters"]).error)
    assert error.startswith("The API refused the request") and "tag" in error and "Check the filters" in error


def test_switching_pages_keeps_the_experiment_and_the_filters(overview, world):
    app = overview(model=["m2"])
    # The sidebar navigation drops the query parameters when it opens another page.
    app.query_params.clear()
    app.switch_page("app_pages/runs.py").run()
    assert app.query_params["experiment"] == world["experiment"]["id"]
    assert set(table(app, "job_status")["model"]) == {"m2"}


def test_an_experiment_without_runs_says_how_to_report_them(open_app, world):
    query = {"experiment": world["empty"]["id"]}
    app = open_app("overview", world["owner"], query)
    assert any("no drift runs yet" in text for text in texts(app.info))
    # The snippet names the experiment by id, which also works for an experiment shared with you.
    assert any(f'DriftMonitor(experiment_id="{world["empty"]["id"]}"' in code.value for code in app.code)
    app.switch_page("app_pages/runs.py").run()
    assert any("No runs match these filters" in text for text in texts(app.info))
    app.switch_page("app_pages/heatmap.py").run()
    assert any("No per-feature" in text for text in texts(app.info))
    app.switch_page("app_pages/parameters.py").run()
    assert any("No numeric parameters" in text for text in texts(app.info))


def test_a_private_experiment_is_not_found_for_others(open_app, world):
    query = {"experiment": world["experiment"]["id"]}
    [error] = texts(open_app("overview", world["stranger"], query).error)
    assert "Not found, or you have no access" in error and "ask the experiment's managers" in error
    [error] = texts(open_app("overview", None, query).error)
    assert "Not found, or you have no access" in error and "log in first" in error


def test_an_experiment_view_without_an_experiment_points_to_the_list(open_app, world):
    app = open_app("overview", world["owner"])
    assert any("Choose an experiment first" in text for text in texts(app.info))


def test_parameters_over_time_and_against_another(open_app, world):
    app = open_app("parameters", world["owner"], {"experiment": world["experiment"]["id"], "range": "All time",
                                                  "parameter": "parameters.accuracy"})
    assert "parameters.accuracy" in app.selectbox(key="parameter").options
    chart = figures(app)["parameters.accuracy over time"]
    assert sorted(point for trace in chart.data for point in values(trace.y)) == [0.8, 0.82, 0.84, 0.85, 0.86, 0.88,
                                                                                0.95]
    assert "7 runs, every one drawn." in texts(app.caption)
    # Suggestions for the sidebar's filters came with the facets.
    assert {"m1", "m2"} <= set(app.multiselect(key="model").options)
    assert "nightly" in app.multiselect(key="tag").options

    app.toggle(key="log_scale").set_value(True)
    app.radio(key="plot_against").set_value("another parameter").run()
    assert any("second parameter" in text for text in texts(app.info))
    app.selectbox(key="versus").set_value("parameters.n_current").run()
    chart = figures(app)["parameters.accuracy against parameters.n_current"]
    assert chart.layout.yaxis.type == "log"
    assert sorted(x for trace in chart.data for x in values(trace.x)) == [101, 102, 103, 104, 105]


def test_heatmap_of_features_over_time(open_app, world):
    app = open_app("heatmap", world["owner"], {"experiment": world["experiment"]["id"]})
    [(title, figure)] = figures(app).items()
    heatmap = figure.data[0]
    assert heatmap.type == "heatmap" and list(heatmap.y) == ["age", "income"]  # age drifted, so it comes first
    assert "drift detected in" in heatmap.hovertemplate
    assert "p_value" in title

    plain = open_app("heatmap", world["owner"], {"experiment": world["plain"]["id"]})
    assert any("No per-feature `p_value`" in text for text in texts(plain.info))


def test_runs_table_details_and_comparison(open_app, world):
    app = open_app("runs", world["owner"], {"experiment": world["experiment"]["id"], "model": ["m1"]})
    runs = table(app, "job_status")
    assert len(runs) == 5 and set(runs["model"]) == {"m1"}
    assert list(runs["created_at"]) == sorted(runs["created_at"], reverse=True)

    newest, second = runs["id"][0], runs["id"][1]
    shown = json.loads(app.json[0].value)
    assert shown["id"] == newest and shown["parameters"]["accuracy"] == 0.88

    assert (app.selectbox(key="compare_a").value, app.selectbox(key="compare_b").value) == (newest, second)
    differences = table(app, "path").set_index("path")
    assert differences["changed"].all()
    assert differences.loc["parameters.accuracy", "difference"] == pytest.approx(-0.02)
    assert "model" not in differences.index  # the same in both: hidden while "only what differs" is on
    app.toggle(key="compare_changed_only").set_value(False).run()
    assert "model" in table(app, "path")["path"].tolist()


def test_export_holds_the_filtered_runs(open_app, world):
    query = {"experiment": world["experiment"]["id"], "range": "All time", "drift_type": "data", "detected": "no"}
    app = open_app("runs", world["owner"], query)
    app.button(key="prepare_export").click().run()
    prepared = app.session_state["runs_export"]
    # Said in the query language, independently of the dashboard's translation of its filters.
    expected = list(world["owner"].api.iter_drifts(world["experiment"]["id"], {"data_drift.drift": False},
                                                   sort_by="created_at", order_by="desc"))
    assert len(expected) == 5 and prepared["count"] == 5 and not prepared["capped"]
    assert json.loads(prepared["json"]) == expected
    rows = list(csv.DictReader(io.StringIO(prepared["csv"].decode())))
    assert [row["id"] for row in rows] == [run["id"] for run in expected]
    assert [float(row["data_drift.parameters.age.p_value"]) for row in rows] == [
        run["data_drift"]["parameters"]["age"]["p_value"] for run in expected]
    assert [button.proto.label for button in app.get("download_button")] == ["Download 5 runs as CSV",
                                                                             "Download 5 runs as JSON"]


def test_export_says_when_it_is_capped(open_app, world, monkeypatch):
    monkeypatch.setattr(api, "EXPORT_LIMIT", 3)
    app = open_app("runs", world["owner"], {"experiment": world["experiment"]["id"]})
    assert any("only the first 3 of 8" in text for text in texts(app.markdown))
    app.button(key="prepare_export").click().run()
    assert app.session_state["runs_export"]["count"] == 3 and app.session_state["runs_export"]["capped"]
    assert any("first 3 runs only" in text for text in texts(app.warning))
