"""Overview of an experiment: headline figures, the drift timeline and job health for the filtered runs."""

import streamlit as st

from dashboard import api, charts, state, tables, ui

view = state.view()
experiment_id = ui.need_experiment(view)
ui.stop_on_filter_problems(view.filters)
client, key = state.client(), state.cache_key()

# One experiment and one drift summary, nothing else: the summary is kept up to date by the server as
# runs arrive, so this page stays fast at any number of runs (benchmarks/dashboard_overview.py).
experiment = api.experiment(key, client, experiment_id)
summary = api.drift_summary(key, client, experiment_id, view.filters.api_arguments(view.today))
state.suggest(experiment_id, models=summary["models"])
totals = summary["totals"]

ui.experiment_header(experiment, "Overview")
st.caption(f"{view.filters.describe(view.today)} · {summary['interval']} buckets")

if totals["runs"] == 0:
    if not summary["models"]:
        st.info("This experiment has no drift runs yet. Jobs report them with the drift-monitor client:",
                icon=":material/hourglass_empty:")
        # By id: a name only finds experiments you own, and this one may be shared with you.
        st.code(f'with DriftMonitor(experiment_id="{experiment["id"]}", model="my-model") as monitor:\n'
                '    monitor.data(detected, {"p_value": p_value})', language="python")
    else:
        st.info("No runs match these filters. Widen the time range or clear some filters in the sidebar.",
                icon=":material/filter_alt_off:")
    st.stop()

figures = st.columns(6)
figures[0].metric("Runs", f"{totals['runs']:,}")
figures[1].metric("Drift rate", "—" if totals["drift_rate"] is None else f"{totals['drift_rate']:.1%}",
                  help="Completed runs with drift detected, over all completed runs in the period")
figures[2].metric("Last run", tables.time_ago(totals["last_run_at"]),
                  help=f"{tables.format_time(totals['last_run_at'])} UTC")
figures[3].metric("Running", f"{totals['running']:,}")
figures[4].metric("Failed", f"{totals['failed']:,}")
figures[5].metric("Stuck in Running", f"{totals['stuck']:,}", help="Still Running 6 hours after they started")

st.plotly_chart(charts.drift_timeline(summary["buckets"], summary["interval"]), key="drift_timeline")

st.subheader("Job status")
chart_column, stuck_column = st.columns([2, 1])
chart_column.plotly_chart(charts.job_status_figure(summary["buckets"], summary["interval"]), key="job_status")
with stuck_column:
    if summary["stuck_runs"]:
        st.markdown("**Stuck in Running** (oldest first)")
        st.dataframe(tables.stuck_runs_frame(summary["stuck_runs"]), hide_index=True,
                     column_config={"created_at": st.column_config.DatetimeColumn("Started (UTC)",
                                                                                   format="YYYY-MM-DD HH:mm")})
    else:
        st.success("No run is stuck in Running.", icon=":material/check_circle:")
