"""Parameters explorer: any numeric parameter of the filtered runs, over time or against another one."""

import streamlit as st

from dashboard import api, charts, state, ui

POINT_BUDGETS = [250, 500, 1000, 2500, 5000, 10000]

view = state.view()
experiment_id = ui.need_experiment(view)
ui.stop_on_filter_problems(view.filters)
client, key = state.client(), state.cache_key()

experiment = api.experiment(key, client, experiment_id)
facets = api.drift_facets(key, client, experiment_id)
state.suggest(experiment_id, models=facets["models"], tags=facets["tags"])
known = facets["parameters"]

ui.experiment_header(experiment, "Parameters")
st.caption(view.filters.describe(view.today))

# A p-value is what most people come for; otherwise the first parameter found.
default = next((index for index, path in enumerate(known) if path.endswith("p_value")), 0) if known else None
choice, against, options = st.columns([3, 2, 2])
parameter = choice.selectbox(
    "Parameter", known, index=default, key="parameter", bind=ui.BIND, accept_new_options=True,
    placeholder="a dotted path, e.g. data_drift.parameters.age.p_value",
    help="Suggestions come from recent runs; any numeric path below parameters, concept_drift.parameters or "
         "data_drift.parameters works.")
versus = None
plot_against = against.radio("Plot against", ["time", "another parameter"], horizontal=True, key="plot_against")
if plot_against == "another parameter":
    versus = against.selectbox("Second parameter (x axis)", known, index=None, key="versus", bind=ui.BIND,
                               accept_new_options=True, placeholder="a dotted path")
log_scale = options.toggle("Log scale", key="log_scale")
points = options.select_slider("Point budget", POINT_BUDGETS, value=1000, key="point_budget",
                               help="At most this many points are drawn; the server summarises the rest.")

if not parameter:
    st.info("No numeric parameters were found in the latest runs. Type the dotted path of one above."
            if not known else "Choose a parameter to plot.", icon=":material/show_chart:")
    st.stop()
if plot_against == "another parameter" and not versus:
    st.info("Choose the second parameter, for the x axis.", icon=":material/scatter_plot:")
    st.stop()

series = api.parameter_series(key, client, experiment_id, parameter, versus, points,
                              view.filters.api_arguments(view.today))
if series["matched"] == 0:
    # The paths may come from the URL: code spans that no backtick in them can close.
    st.info(f"No run in this selection has a numeric value at {ui.markdown.code(parameter)}"
            + (f" and {ui.markdown.code(versus)}" if versus else "") + ". Check the path, or widen the filters.",
            icon=":material/search_off:")
    st.stop()

drawn = len(series["points"])
if series["downsampled"]:
    how = ("a random sample of them is drawn" if versus else
           "each point is the mean of a time bucket, with bars from its min to its max")
    st.caption(f"{series['matched']:,} runs match, more than the budget of {points:,} points: the server "
               f"downsampled them to {drawn:,} points; {how}.")
else:
    st.caption(f"{series['matched']:,} runs, every one drawn.")
plotted = [point[name] for point in series["points"] for name in (("x", "y") if versus else ("value",))]
if log_scale and any(value is not None and value <= 0 for value in plotted):
    st.caption("Values of zero or below cannot be shown on a log scale.")
st.plotly_chart(charts.parameter_figure(series, log_scale), key="parameter_chart")
