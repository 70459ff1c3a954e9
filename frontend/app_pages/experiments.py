"""Experiments: find one and see how its runs are doing, or create a new one."""

import streamlit as st
from drift_monitor import Conflict, DriftMonitorError

from dashboard import api, state, tables, ui

PAGE_SIZE = 20
SORTS = {
    "Name": ("name", "asc"),
    "Newest first": ("created_at", "desc"),
    "Oldest first": ("created_at", "asc"),
    "Recently changed": ("updated_at", "desc"),
}

client, login = state.client(), state.current_login()
st.title("Experiments")
if created := st.session_state.pop("created_experiment", None):
    st.success(f"Created “{ui.plain(created['name'])}”. You hold Manage permission on it.",
               icon=":material/check_circle:")
    st.page_link("app_pages/overview.py", label="Open its overview", icon=":material/dashboard:",
                 query_params={"experiment": created["id"]})


def back_to_first_page():
    st.session_state["experiments_page"] = 1


search_column, sort_column = st.columns([3, 1])
search = search_column.text_input("Search by name", key="experiments_search", placeholder="part of a name",
                                  on_change=back_to_first_page)
sort = sort_column.selectbox("Sort by", list(SORTS), key="experiments_sort", on_change=back_to_first_page)
page_number = st.session_state.get("experiments_page", 1)
experiments, total = api.experiments_page(state.cache_key(), client, search, *SORTS[sort], page_number, PAGE_SIZE)

if total == 0:
    if search.strip():
        st.info(f"No experiment you can see has “{ui.plain(search.strip())}” in its name.",
                icon=":material/search_off:")
    elif login.anonymous:
        st.info("Nothing public here yet. Log in (sidebar) to see the experiments shared with you.",
                icon=":material/login:")
    else:
        st.info("No experiments yet. Create one below, or from Python with the drift-monitor client: "
                "`drift_monitor.new_experiment(\"my-experiment\")`.", icon=":material/add_circle:")
else:
    frame = tables.experiments_frame(experiments)
    frame["visibility"] = frame["visibility"].map(lambda visibility: [visibility])  # drawn as a coloured badge
    st.caption(f"{total} experiment{'s' if total != 1 else ''}. Select a row to open its overview.")
    chosen = st.dataframe(
        frame, hide_index=True, key="experiments_table", on_select="rerun", selection_mode="single-row",
        column_order=["name", "visibility", "runs", "last_run", "drift_share", "description"],
        column_config={
            "name": st.column_config.TextColumn("Experiment"),
            "visibility": st.column_config.MultiselectColumn("Visibility", options=["public", "private"],
                                                             color=["green", "gray"]),
            "runs": st.column_config.NumberColumn("Runs"),
            "last_run": st.column_config.DatetimeColumn("Last run (UTC)", format="YYYY-MM-DD HH:mm"),
            "drift_share": st.column_config.ProgressColumn(
                "Drifting runs", format="percent", min_value=0.0, max_value=1.0,
                help="Share of completed runs in which drift was detected"),
            "description": st.column_config.TextColumn("Description"),
        },
    )
    if chosen.selection.rows:
        st.switch_page("app_pages/overview.py",
                       query_params={"experiment": frame.iloc[chosen.selection.rows[0]]["id"]})
    pages = -(-total // PAGE_SIZE)
    if pages > 1:
        st.pagination(pages, key="experiments_page")

st.divider()
with st.expander("Create an experiment", icon=":material/add:", expanded=total == 0 and not search.strip()):
    can_create = False
    person = state.who()
    if person is None:
        st.info("Log in to create an experiment.", icon=":material/login:")
    elif person.expired:
        st.warning("Your login has expired: log in again to create an experiment.")
    elif not person.registered:
        st.warning("You are logged in but not registered with Drift Monitoring yet. Registering records "
                   "who you are (from your token) and accepts the service's terms of use.",
                   icon=":material/how_to_reg:")
        if st.button("Register", type="primary", key="register"):
            try:
                user = client.register()
            except Conflict:  # registered meanwhile, e.g. from the command line
                user = client.get_self()
            except DriftMonitorError as error:
                ui.show_error(error)
                st.stop()
            state.registered_now(dict(user))
            st.rerun()
    else:
        can_create = True
    with st.form("create_experiment"):
        name = st.text_input("Name", max_chars=100, disabled=not can_create, key="new_experiment_name")
        description = st.text_area("Description", max_chars=2000, disabled=not can_create,
                                   key="new_experiment_description")
        public = st.checkbox("Public: anyone may read it, even without logging in", disabled=not can_create,
                             key="new_experiment_public")
        submitted = st.form_submit_button("Create", type="primary", disabled=not can_create)
    if submitted:
        if not name.strip():
            st.error("Give the experiment a name.")
        else:
            try:
                created = client.create_experiment(name.strip(), description, public)
            except DriftMonitorError as error:
                ui.show_error(error)
            else:
                state.data_changed()
                st.session_state["created_experiment"] = {"name": created["name"], "id": created["id"]}
                st.rerun()
