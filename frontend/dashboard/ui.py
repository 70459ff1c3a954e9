"""Pieces of screen shared by the pages: the account box, the filters, error boxes, headers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st
from drift_monitor import DriftMonitorError

from . import api, markdown, state
from .filters import CUSTOM_RANGE, DEFAULT_RANGE, DETECTED, DRIFT_TYPES, JOB_STATUSES, RANGE_DAYS, Filters

#: Filter widgets keep their values in the URL, under their key, so a view can be shared.
BIND = "query-params"

#: ``text`` shown as it is inside Markdown (names, e-mails with underscores, values from the URL).
plain = markdown.literal


def _log_in_again(where, key: str) -> None:
    if state.current_login().kind == "oidc" and state.auth_configured():
        if where.button("Log in again", key=key):
            st.login()
    elif where.button("Log in again", key=key):
        state.log_out()
        st.rerun()


def account_sidebar() -> None:
    """Who is logged in and the ways to log in or out."""
    sidebar = st.sidebar
    login = state.current_login()
    if not login.anonymous:
        person = state.who()
        if person is None:  # a browser login whose access token Streamlit does not pass on
            sidebar.warning("You are logged in at the identity provider, but the dashboard gets no access "
                            "token to call the API with: add expose_tokens = [\"access\"] to the [auth] "
                            "secrets. Until then you see public experiments only.")
        elif person.expired:
            sidebar.warning("Your login has expired, or the API refused your token.")
            _log_in_again(sidebar, "sidebar_log_in_again")
        else:
            sidebar.markdown(f"Logged in as **{plain(person.name)}**")
            if person.user_id:
                # Managers grant permissions to user ids: this is the one to tell them.
                sidebar.caption(f"User id: {markdown.code(person.user_id)}")
            if not person.registered:
                sidebar.caption("Not registered yet: register on the Experiments page to create experiments.")
        if sidebar.button("Log out", key="log_out"):
            state.log_out()
            st.rerun()
        return

    sidebar.caption("Not logged in: you see public experiments only.")
    if state.auth_configured():
        if sidebar.button("Log in", type="primary", key="log_in"):
            st.login()
    with sidebar.expander("Use a token", expanded=not state.auth_configured()):
        # Cleared on submit: the widget need not keep the token once the session holds it.
        with st.form("paste_token", border=False, clear_on_submit=True):
            kind = st.radio("Kind", list(state.PASTED_KINDS), format_func=state.PASTED_KINDS.get, horizontal=True,
                            key="paste_kind")
            secret = st.text_input("Token", type="password", key="paste_secret",
                                   help="An access token of a trusted identity provider, or a MyToken "
                                        "(exchanged at DRIFT_MONITOR_MYTOKEN_SERVER). Kept in this browser "
                                        "session only.")
            if st.form_submit_button("Use token") and secret and secret.strip():
                if any(character.isspace() for character in secret.strip()):
                    st.error("A token has no spaces or line breaks: copy it again.")
                else:
                    state.use_pasted(kind, secret)
                    st.rerun()


def filter_sidebar(experiment_id: str) -> Filters:
    """The filters of an experiment's views, in the sidebar and the URL."""
    known = state.suggestions(experiment_id)
    sidebar = st.sidebar
    sidebar.subheader("Filters")
    time_range = sidebar.selectbox("Time range", list(RANGE_DAYS), index=list(RANGE_DAYS).index(DEFAULT_RANGE),
                                   key="range", bind=BIND)
    since = until = None
    if time_range == CUSTOM_RANGE:
        left, right = sidebar.columns(2)
        since = left.date_input("From", value=None, key="since", bind=BIND, format="YYYY-MM-DD")
        until = right.date_input("To (inclusive)", value=None, key="until", bind=BIND, format="YYYY-MM-DD")

    def options(key: str, name: str) -> list[str]:
        return sorted(set(known.get(name, [])) | set(st.session_state.get(key) or []))

    models = sidebar.multiselect("Model", options("model", "models"), key="model", bind=BIND,
                                 accept_new_options=True, placeholder="All models")
    tags = sidebar.multiselect("Tags (runs with all of them)", options("tag", "tags"), key="tag", bind=BIND,
                               accept_new_options=True, placeholder="Any tags")
    statuses = sidebar.pills("Job status", JOB_STATUSES, selection_mode="multi", key="status", bind=BIND)
    drift_type = sidebar.radio("Drift type", DRIFT_TYPES, horizontal=True, key="drift_type", bind=BIND)
    detected = sidebar.radio("Detected", DETECTED, horizontal=True, key="detected", bind=BIND)
    return Filters(range=time_range, since=since, until=until, models=tuple(models), tags=tuple(tags),
                   statuses=tuple(statuses or ()), drift_type=drift_type or "any", detected=detected or "any")


def show_error(error: Exception) -> None:
    """An error box that says what went wrong and what to do."""
    explanation = api.explain(error, url=api.configured_url(), logged_in=not state.current_login().anonymous)
    # The server's message can repeat what the request carried (a filter value from the URL); the advice
    # is our own Markdown.
    st.error(f"{plain(explanation.problem)}\n\n{explanation.advice}".strip(), icon=":material/error:")
    if explanation.expired_login:
        _log_in_again(st, "page_log_in_again")


@contextlib.contextmanager
def api_errors() -> Iterator[None]:
    """Show an API failure inside a page as an error box instead of a traceback."""
    try:
        yield
    except DriftMonitorError as error:
        show_error(error)


def need_experiment(view: state.View) -> str:
    """The experiment of the view; without one, say where to pick it and stop."""
    if not view.experiment_id:
        st.info("Choose an experiment first: open one from the Experiments page.", icon=":material/info:")
        st.page_link("app_pages/experiments.py", label="Go to the experiments", icon=":material/science:")
        st.stop()
    return view.experiment_id


def experiment_header(experiment: dict, screen: str) -> None:
    st.title(plain(experiment["name"]))
    badge = ":green-badge[:material/public: public]" if experiment.get("public") else \
        ":gray-badge[:material/lock: private]"
    description = plain(experiment.get("description") or "")
    st.markdown(f"{badge} **{screen}**" + (f" — {description}" if description else ""))


def stop_on_filter_problems(filters: Filters) -> None:
    problems = filters.problems()
    if problems:
        st.error("Invalid filter: " + "; ".join(problems) + ".\n\nChange the filters in the sidebar.",
                 icon=":material/filter_alt_off:")
        st.stop()
