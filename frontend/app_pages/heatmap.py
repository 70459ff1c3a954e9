"""Feature × time heatmap: a per-feature statistic of the filtered runs, bucket by bucket."""

import streamlit as st

from dashboard import api, charts, state, ui

RESULTS = {"data_drift": "Data drift", "concept_drift": "Concept drift"}
INTERVALS = ["auto", "day", "week", "month"]

view = state.view()
experiment_id = ui.need_experiment(view)
ui.stop_on_filter_problems(view.filters)
client, key = state.client(), state.cache_key()

experiment = api.experiment(key, client, experiment_id)
facets = api.drift_facets(key, client, experiment_id)
state.suggest(experiment_id, models=facets["models"], tags=facets["tags"])

ui.experiment_header(experiment, "Feature heatmap")
st.caption(view.filters.describe(view.today))

result_column, statistic_column, interval_column = st.columns([2, 2, 3])
result = result_column.radio("Result", list(RESULTS), format_func=RESULTS.get, horizontal=True,
                             key="heatmap_result")
statistics = facets["statistics"] or ["p_value"]
statistic = statistic_column.selectbox(
    "Statistic", statistics, index=statistics.index("p_value") if "p_value" in statistics else 0,
    key="heatmap_statistic", accept_new_options=True,
    help="A numeric key of the per-feature objects, e.g. p_value or statistic")
interval = interval_column.segmented_control("Interval", INTERVALS, default="auto", required=True,
                                             key="heatmap_interval")

heatmap = api.feature_heatmap(key, client, experiment_id, result, statistic, interval or "auto",
                              view.filters.api_arguments(view.today))
figure = charts.heatmap_figure(heatmap)
if figure is None:
    st.info(f"No per-feature {ui.markdown.code(statistic)} in the {RESULTS[result].lower()} results of these runs. "
            f"The heatmap needs runs whose `{result}.parameters` hold one object per feature with a numeric "
            f"{ui.markdown.code(statistic)} "
            "(and optionally `drift`), for example:", icon=":material/grid_off:")
    st.code('monitor.data(detected, {"age": {"p_value": 0.01, "drift": True},\n'
            '                        "income": {"p_value": 0.42, "drift": False}})', language="python")
    st.stop()

shown, total = len(heatmap["features"]), heatmap["features_total"]
features = f"{shown} of {total} features" if shown < total else f"{total} features"
st.caption(f"{features}, those with the most detected drift first. "
           "Hover a cell to see in how many runs drift was detected.")
st.plotly_chart(figure, key="feature_heatmap")
