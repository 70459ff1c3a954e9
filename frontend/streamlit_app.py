"""Drift Monitoring dashboard: the frame around every page (navigation, account, experiment filters)."""

import streamlit as st

from dashboard import state, ui
from dashboard.filters import Filters

st.set_page_config(page_title="Drift Monitoring", page_icon=":material/monitoring:", layout="wide")

# Paths are relative to this file, so `streamlit run` works from any directory.
experiments = st.Page("app_pages/experiments.py", title="Experiments", icon=":material/science:", default=True)
overview = st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview")
parameters = st.Page("app_pages/parameters.py", title="Parameters", icon=":material/show_chart:",
                     url_path="parameters")
heatmap = st.Page("app_pages/heatmap.py", title="Feature heatmap", icon=":material/grid_on:", url_path="heatmap")
runs = st.Page("app_pages/runs.py", title="Runs", icon=":material/table_rows:", url_path="runs")
permissions = st.Page("app_pages/permissions.py", title="Permissions", icon=":material/group:",
                      url_path="permissions")

page = st.navigation({"Drift Monitoring": [experiments],
                      "Experiment": [overview, parameters, heatmap, runs, permissions]})

FILTERED_VIEWS = {overview.url_path, parameters.url_path, heatmap.url_path, runs.url_path}
EXPERIMENT_VIEWS = FILTERED_VIEWS | {permissions.url_path}

ui.account_sidebar()

experiment_id = None
filters = Filters()
if page.url_path in EXPERIMENT_VIEWS:
    experiment_id = state.remember_experiment()
    if experiment_id and page.url_path in FILTERED_VIEWS:
        filters = ui.filter_sidebar(experiment_id)
state.set_view(experiment_id, filters)

try:
    with ui.api_errors():
        page.run()
finally:
    # A page learnt the experiment's models or tags (also one that stopped early, e.g. at an empty
    # result): draw the filters again, with them as suggestions.
    if state.suggestions_arrived():
        st.rerun()
