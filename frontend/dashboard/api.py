"""Reading and writing through the drift-monitor Client: cached reads, pages of searches, readable errors."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
from collections.abc import Mapping
from itertools import islice
from typing import Any

import streamlit as st
from drift_monitor import (
    APIError,
    AuthenticationError,
    Client,
    ConfigurationError,
    NotFound,
    PermissionDenied,
    ServerError,
    Settings,
    TransportError,
    ValidationError,
)
from urllib3.util import Retry

#: Someone is waiting in front of the page: one quick retry, then say what is wrong.
DASHBOARD_RETRY = Retry(total=1, connect=1, read=0, status=1, other=0, backoff_factor=0.2,
                        status_forcelist=(502, 503, 504), allowed_methods=None, raise_on_status=False)
#: Seconds a read is reused: short, so new runs show up soon; long enough for reruns of one view.
CACHE_TTL = 30
#: The most runs an export fetches; more would take minutes and fill the browser's memory.
EXPORT_LIMIT = 10_000
#: The dashboard's MyToken server setting; the client's own MYTOKEN_SERVER is the fallback.
MYTOKEN_SERVER_VARIABLE = "DRIFT_MONITOR_MYTOKEN_SERVER"


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The client settings of the dashboard: the environment's, minus any credentials in it.

    The dashboard acts as whoever is logged in; a DRIFT_MONITOR_TOKEN or DRIFT_MONITOR_MYTOKEN
    exported for the command line must never become everyone's identity.
    """
    environ = os.environ if environ is None else environ
    resolved = dataclasses.replace(Settings.resolve(environ), token=None, mytoken=None)
    server = environ.get(MYTOKEN_SERVER_VARIABLE)
    return resolved.with_overrides(mytoken_server=server) if server else resolved


def make_client(*, token: str | None = None, mytoken: str | None = None) -> Client:
    return Client(settings(), retry=DASHBOARD_RETRY, token=token, mytoken=mytoken)


def configured_url() -> str | None:
    return os.environ.get("DRIFT_MONITOR_URL") or None


def token_claims(token: str | None) -> dict[str, Any]:
    """The claims of a JWT access token, read without verifying it: only to say who is logged in."""
    parts = (token or "").split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return {}
    return claims if isinstance(claims, dict) else {}


def display_name(user: Mapping[str, Any] | None, claims: Mapping[str, Any]) -> str | None:
    """How to name the person: the API's user record first, then the token's claims."""
    for value in ((user or {}).get("email"), claims.get("email"), claims.get("preferred_username"),
                  claims.get("name"), claims.get("sub")):
        if value:
            return str(value)
    return None


@dataclasses.dataclass(frozen=True)
class Explanation:
    """What went wrong and what to do about it, for an error box."""

    problem: str
    advice: str
    expired_login: bool = False


#: Where flask-smorest says a field error was found; not worth showing to people.
_REQUEST_LOCATIONS = {"json", "query", "querystring", "form", "headers"}


def _field_errors(errors: Any) -> str:
    """``{"query": {"tag": {"0": ["Too long."]}}}`` → `` (tag.0: Too long.)``."""
    parts: list[str] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, Mapping):
            for key, child in node.items():
                walk(child, path if not path and key in _REQUEST_LOCATIONS else [*path, str(key)])
        else:
            text = "; ".join(map(str, node)) if isinstance(node, list) else str(node)
            parts.append(f"{'.'.join(path)}: {text}" if path else text)

    if errors:
        walk(errors, [])
    return f" ({', '.join(parts)})" if parts else ""


def explain(error: Exception, *, url: str | None = None, logged_in: bool = False) -> Explanation:
    """Turn a client exception into words for the user. Never includes credentials: the client's
    messages hold methods, URLs and the server's message, and tokens travel only in headers."""
    if isinstance(error, ConfigurationError):
        return Explanation(str(error), "Set DRIFT_MONITOR_URL (and DRIFT_MONITOR_MYTOKEN_SERVER for MyTokens) "
                                       "in the dashboard's environment and restart it.")
    if isinstance(error, TransportError):
        if "MyToken server" in str(error):
            return Explanation(str(error), "Check DRIFT_MONITOR_MYTOKEN_SERVER, or paste an access token instead.")
        return Explanation(f"Cannot reach the Drift Monitoring API at {url or 'DRIFT_MONITOR_URL (not set)'}.",
                           "Check that DRIFT_MONITOR_URL points at the API and that the server is running, "
                           "then reload the page.")
    if isinstance(error, AuthenticationError):
        return Explanation("Your login has expired, or the API refused your token.",
                           "Log in again.", expired_login=True)
    if isinstance(error, NotFound):
        advice = ("Check the link, or ask the experiment's managers for a permission."
                  if logged_in else "If it is a private experiment, log in first.")
        return Explanation("Not found, or you have no access to it: " + error.message, advice)
    if isinstance(error, PermissionDenied):
        advice = ("Register on the Experiments page first." if "register" in error.message.lower()
                  else "Ask the experiment's managers for a higher permission level.")
        return Explanation(f"Not allowed: {error.message}", advice)
    if isinstance(error, ValidationError):
        return Explanation(f"The API refused the request: {error.message}{_field_errors(error.errors)}",
                           "Check the filters and values you entered.")
    if isinstance(error, ServerError):
        return Explanation(f"The API failed ({error.status}): {error.message}",
                           "Try again in a moment; if it persists, the server's logs say why.")
    if isinstance(error, APIError):
        return Explanation(f"The API answered {error.status}: {error.message}{_field_errors(error.errors)}", "")
    return Explanation(str(error), "")


# Searches: the client's page methods (drifts_page, experiments_page) say the total -------------


def _plain(value: Any) -> Any:
    """Resources as plain dicts and lists, so cached copies pickle the same everywhere."""
    return json.loads(json.dumps(value))


def name_filter(text: str) -> dict[str, Any]:
    """Experiments whose name contains ``text``, ignoring case."""
    text = text.strip()
    return {"name": {"$regex": re.escape(text), "$options": "i"}} if text else {}


# Cached reads. Each takes the session's cache key (not secret: it names the session and its login,
# so one person's answers are never served to another) and the client as `_client`, which
# Streamlit leaves out of the cache key.


def _cached(loading: str):
    """A cached read; ``loading`` is shown while the API is asked (not when the answer is cached)."""
    return st.cache_data(ttl=CACHE_TTL, show_spinner=loading, scope="session", max_entries=200)


@_cached("Loading experiments…")
def experiments_page(session_key: str, _client: Client, search: str, sort_by: str, order_by: str, page: int,
                     page_size: int) -> tuple[list[dict], int]:
    """One page of the experiments visible to the caller, with run statistics, and the total."""
    found = _client.experiments_page(name_filter(search), page=page, page_size=page_size, sort_by=sort_by,
                                     order_by=order_by, with_stats=True)
    return _plain(found.items), found.total


@_cached("Loading the experiment…")
def experiment(session_key: str, _client: Client, experiment_id: str) -> dict:
    return _plain(_client.get_experiment(experiment_id))


@_cached("Summarising the runs…")
def drift_summary(session_key: str, _client: Client, experiment_id: str, filters: dict[str, Any]) -> dict:
    return _plain(_client.drift_summary(experiment_id, **filters))


@_cached("Looking at recent runs…")
def drift_facets(session_key: str, _client: Client, experiment_id: str) -> dict:
    return _plain(_client.drift_facets(experiment_id))


@_cached("Loading the parameter's values…")
def parameter_series(session_key: str, _client: Client, experiment_id: str, parameter: str, versus: str | None,
                     points: int, filters: dict[str, Any]) -> dict:
    return _plain(_client.parameter_series(experiment_id, parameter, versus=versus, points=points, **filters))


@_cached("Building the heatmap…")
def feature_heatmap(session_key: str, _client: Client, experiment_id: str, result: str, statistic: str,
                    interval: str, filters: dict[str, Any]) -> dict:
    return _plain(_client.feature_heatmap(experiment_id, result=result, statistic=statistic, interval=interval,
                                          **filters))


@_cached("Loading runs…")
def runs_page(session_key: str, _client: Client, experiment_id: str, filters: dict[str, Any], page: int,
              page_size: int) -> tuple[list[dict], int]:
    """One page of an experiment's runs that the run filter (`Filters.api_arguments`) selects, newest first,
    and the total."""
    found = _client.drifts_page(experiment_id, page=page, page_size=page_size, sort_by="created_at",
                                order_by="desc", **filters)
    return _plain(found.items), found.total


@_cached("Loading the run…")
def drift_run(session_key: str, _client: Client, experiment_id: str, run_id: str) -> dict:
    return _plain(_client.get_drift(experiment_id, run_id))


def export_runs(client: Client, experiment_id: str, filters: dict[str, Any],
                limit: int | None = None) -> tuple[list[dict], bool]:
    """Up to ``limit`` (EXPORT_LIMIT) runs the run filter (`Filters.api_arguments`) selects, newest first,
    and whether there were more."""
    limit = EXPORT_LIMIT if limit is None else limit
    runs = list(islice(client.iter_drifts(experiment_id, sort_by="created_at", order_by="desc", **filters),
                       limit + 1))
    return _plain(runs[:limit]), len(runs) > limit


def whoami(client: Client) -> dict | None:
    """The caller's user record, or None when the token is valid but its user is not registered."""
    try:
        return _plain(client.get_self())
    except PermissionDenied:
        return None
