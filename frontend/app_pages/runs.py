"""Runs: the filtered drift runs as a table, one run in full, two runs compared, and an export."""

import streamlit as st

from dashboard import api, compare, state, tables, ui

PAGE_SIZE = 50

view = state.view()
experiment_id = ui.need_experiment(view)
ui.stop_on_filter_problems(view.filters)
client, key = state.client(), state.cache_key()
run_filter = view.filters.api_arguments(view.today)

experiment = api.experiment(key, client, experiment_id)
ui.experiment_header(experiment, "Runs")

# A different selection starts again at its first page.
selection = (experiment_id, repr(run_filter))
if st.session_state.get("runs_selection") != selection:
    st.session_state["runs_selection"] = selection
    st.session_state["runs_page"] = 1
page_number = st.session_state.get("runs_page", 1)
runs, total = api.runs_page(key, client, experiment_id, run_filter, page_number, PAGE_SIZE)
state.suggest(experiment_id, models=[run["model"] for run in runs],
              tags=[tag for run in runs for tag in run.get("tags") or []])

st.caption(f"{total:,} runs: {view.filters.describe(view.today)}. Newest first.")
if total == 0:
    st.info("No runs match these filters. Widen the time range or clear some filters in the sidebar.",
            icon=":material/filter_alt_off:")
    st.stop()

st.dataframe(tables.runs_frame(runs), hide_index=True, key="runs_table", column_config={
    "created_at": st.column_config.DatetimeColumn("Created (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "model": "Model", "job_status": "Status",
    "drift_detected": st.column_config.CheckboxColumn("Drift"),
    "concept_drift": "Concept drift", "data_drift": "Data drift", "tags": "Tags", "id": "Run id",
})
pages = -(-total // PAGE_SIZE)
if pages > 1:
    st.pagination(pages, key="runs_page")

on_page = {run["id"]: run for run in runs}


def label(run_id: str) -> str:
    run = on_page.get(run_id)
    if run is None:
        return run_id
    return f"{tables.format_time(run['created_at'])} · {run['model']} · {run['job_status']} · {run_id[:8]}"


def fetch(run_id: str) -> dict:
    """A run of this page as listed, any other (a pasted id) from the API."""
    return on_page.get(run_id) or api.drift_run(key, client, experiment_id, run_id.strip())


details, comparison, export = st.tabs(["Run details", "Compare two runs", "Export"])

with details:
    shown = st.selectbox("Run", list(on_page), format_func=label, key="run_details", accept_new_options=True,
                         help="A run of this page, or paste any run id")
    if shown:
        with ui.api_errors():
            st.json(fetch(shown), expanded=2)

with comparison:
    ids = list(on_page)
    left, right = st.columns(2)
    first = left.selectbox("Run A", ids, index=0, format_func=label, key="compare_a", accept_new_options=True)
    second = right.selectbox("Run B", ids, index=min(1, len(ids) - 1), format_func=label, key="compare_b",
                             accept_new_options=True)
    if first and second:
        with ui.api_errors():
            differences = compare.compare_runs(fetch(first), fetch(second))
            if st.toggle("Only what differs", value=True, key="compare_changed_only"):
                differences = differences[differences["changed"]]
            st.caption(f"{int(differences['changed'].sum())} of the values differ. "
                       "Difference is B − A, for numbers.")
            st.dataframe(differences, hide_index=True, key="compare_table", column_config={
                "path": "Path", "difference": st.column_config.NumberColumn("Difference (B − A)", format="%.6g"),
                "changed": st.column_config.CheckboxColumn("Changed")})

with export:
    capped = total > api.EXPORT_LIMIT
    st.write(f"Exports the {min(total, api.EXPORT_LIMIT):,} newest runs matching the filters"
             + (f" — only the first {api.EXPORT_LIMIT:,} of {total:,}: narrow the filters for the rest." if capped
                else "."))
    prepared = st.session_state.get("runs_export")
    if prepared and prepared["selection"] != selection:
        prepared = None
    if st.button("Prepare export", icon=":material/download:", key="prepare_export"):
        with st.spinner("Fetching the runs…"), ui.api_errors():
            exported, more = api.export_runs(client, experiment_id, run_filter)
            prepared = {"selection": selection, "count": len(exported), "capped": more,
                        "csv": tables.export_csv(exported), "json": tables.export_json(exported)}
            st.session_state["runs_export"] = prepared
    if prepared:
        if prepared["capped"]:
            st.warning(f"The export holds the first {prepared['count']:,} runs only (the limit).")
        name = f"{experiment['name']}-runs"
        csv_column, json_column = st.columns(2)
        csv_column.download_button(f"Download {prepared['count']:,} runs as CSV", prepared["csv"],
                                   file_name=f"{name}.csv", mime="text/csv", on_click="ignore", key="export_csv")
        json_column.download_button(f"Download {prepared['count']:,} runs as JSON", prepared["json"],
                                    file_name=f"{name}.json", mime="application/json", on_click="ignore",
                                    key="export_json")
