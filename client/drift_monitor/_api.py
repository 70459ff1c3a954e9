"""One ``Client`` for every operation of the Drift Monitoring API."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import threading
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from ._auth import MyTokenAuth, StaticToken, TokenSource
from ._exceptions import (
    APIError,
    ExperimentNotFound,
    ExperimentNotOwned,
    InsecureTransportWarning,
    TransportError,
    error_class,
)
from ._retry import IdempotentRetry, is_safe_to_repeat
from ._retry import safe_to_repeat as _safe_to_repeat
from ._serialize import to_json
from ._settings import Settings
from ._version import VERSION

__all__ = ["DEFAULT_RETRY", "Client", "Page", "Resource", "default_client"]

log = logging.getLogger("drift_monitor")

#: The retry policy of every Client that is given none (see ``IdempotentRetry``): connection errors
#: and 429 (honouring Retry-After) for every request; 502/503/504 only for requests safe to repeat
#: (GET, HEAD, PUT, DELETE, OPTIONS, the searches, and drift-run creates that carry the run's id,
#: as DriftMonitor and the spool send them). A create_experiment answered 502 is not sent again:
#: the server may have stored it, and a repeat would be reported as a Conflict.
#: Kept short on purpose (sleeps of 0, 0.5 and 1 s, plus up to 0.25 s of jitter each): when the
#: server stays down, DriftMonitor spools the run instead, so a job never waits longer than about
#: one connect timeout (see benchmarks/client_block.py). Read errors are not retried (read=0): a
#: server that accepts but does not answer already cost one read timeout, and the spool keeps the run.
DEFAULT_RETRY = IdempotentRetry(
    total=3,
    connect=3,
    read=0,
    status=3,
    other=0,
    backoff_factor=0.25,
    backoff_jitter=0.25,
    backoff_max=2,
    status_forcelist=(429, 502, 503, 504),
    respect_retry_after_header=True,
    raise_on_status=False,  # the last error answer is mapped to an APIError
)

#: Items per page when iterating search results (the server's maximum).
PAGE_SIZE = 100


class Resource(dict):
    """A JSON object from the API; keys also read as attributes (``experiment.id``), as in 1.1."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class Page:
    """One page of a search: its ``items``, the ``total`` matching the search, which ``page`` (from 1) of
    how many items (``page_size``). ``pages`` is how many pages the total fills."""

    items: list[Resource]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _id_of(thing: str | Mapping[str, Any]) -> str:
    if isinstance(thing, Mapping):
        return str(thing["id"])
    return str(thing)


def _iso(moment: dt.datetime | dt.date | str) -> str:
    if isinstance(moment, str):
        return moment
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.isoformat()


def is_cleartext_remote(url: str) -> bool:
    """Whether ``url`` is plain http:// to a host other than this machine (localhost, 127.0.0.0/8, ::1)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        return False
    host = (parts.hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it resolves to who knows where
        return True


_warned_urls: set[str] = set()
_warned_lock = threading.Lock()


def _warn_if_cleartext(url: str) -> None:
    if not is_cleartext_remote(url):
        return
    message = (f"the Drift Monitoring URL {url} is plain http:// to another machine: your access token and "
               "results would travel unencrypted; use https:// (or a tunnel to localhost)")
    # The warning goes through Python's filters (ignore it with InsecureTransportWarning); the log
    # line reaches jobs that hide warnings, once per URL so that a dashboard is not flooded.
    warnings.warn(message, InsecureTransportWarning, stacklevel=3)
    with _warned_lock:
        first = url not in _warned_urls
        _warned_urls.add(url)
    if first:
        log.warning("drift-monitor: %s", message)


def drift_body(*, model: str, job_status: str = "Running", tags: Sequence[str] | None = None,
               drift_detected: bool | None = None, parameters: Mapping[str, Any] | None = None,
               concept_drift: Mapping[str, Any] | None = None, data_drift: Mapping[str, Any] | None = None,
               ) -> dict[str, Any]:
    """The JSON body of a drift run (create or replace)."""
    body: dict[str, Any] = {"job_status": job_status, "model": model, "tags": list(tags or [])}
    if drift_detected is not None:
        body["drift_detected"] = bool(drift_detected)
    if parameters is not None:
        body["parameters"] = to_json(parameters)
    for name, result in (("concept_drift", concept_drift), ("data_drift", data_drift)):
        if result is not None:
            body[name] = {"drift": bool(result["drift"]),
                          "parameters": to_json(result.get("parameters") or {}, f"{name}.parameters")}
    return body


class Client:
    """A connection to the Drift Monitoring API.

    ``Client()`` reads its settings from the environment (DRIFT_MONITOR_URL, ...); keyword
    arguments override them (``Client(url=..., token=...)``). Nothing is sent until a method is
    called. Every request has a (connect, read) timeout and is retried according to ``retry``.
    """

    def __init__(self, settings: Settings | None = None, *, retry: Retry | None = None,
                 session: requests.Session | None = None, **overrides):
        base = settings if settings is not None else Settings.resolve()
        self.settings = base.with_overrides(**overrides) if overrides else base
        self.retry = retry if retry is not None else DEFAULT_RETRY
        self._session = session or requests.Session()
        adapter = HTTPAdapter(max_retries=self.retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = f"drift-monitor/{VERSION}"
        self._auth: TokenSource | None = None
        self._auth_lock = threading.Lock()
        self._self_id: str | None = None
        self._self_lock = threading.Lock()
        if self.settings.url:
            _warn_if_cleartext(self.settings.url)

    def __repr__(self) -> str:
        return f"Client(url={self.settings.url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # Transport ----------------------------------------------------------------------

    def _token_source(self) -> TokenSource | None:
        with self._auth_lock:
            if self._auth is None:
                if self.settings.token:
                    self._auth = StaticToken(self.settings.token)
                elif self.settings.mytoken:
                    self._auth = MyTokenAuth(self.settings.mytoken, self.settings.mytoken_server, self._session,
                                             self.settings.timeouts, self.settings.verify)
            return self._auth

    def request(self, method: str, path: str, *, json_body: Any = None, params: Mapping[str, Any] | None = None,
                safe_to_repeat: bool | None = None) -> requests.Response:
        """Send one API request (``path`` below /api/<version>) and return a successful response.

        Error answers raise the matching ``APIError``; unreachable servers ``TransportError``.
        A 401 with a renewable token (MyToken) is retried once with a fresh token.
        ``safe_to_repeat`` says whether a retry may send the request again after a 5xx or a dropped
        connection; by default ``is_safe_to_repeat(method, path, json_body)`` decides (see ``DEFAULT_RETRY``).
        """
        url = self.settings.api_url + path
        if safe_to_repeat is None:
            safe_to_repeat = is_safe_to_repeat(method, path, json_body)
        source = self._token_source()
        for attempt in (1, 2):
            headers = {}
            # Exchanging a MyToken again only mints another access token: always safe to repeat.
            with _safe_to_repeat(True):
                token = source.token() if source is not None else None
            if token:
                headers["Authorization"] = f"Bearer {token}"
            try:
                with _safe_to_repeat(safe_to_repeat):
                    response = self._session.request(
                        method, url, json=json_body, params=params, headers=headers,
                        timeout=self.settings.timeouts, verify=self.settings.verify,
                    )
            except requests.RequestException as error:
                raise TransportError(f"{method} {url} failed: {error}") from error
            if response.status_code == 401 and attempt == 1 and source is not None and token \
                    and source.invalidate(token):
                continue
            break
        if response.status_code >= 400:
            # Only our policy holds back unsafe requests; a Retry given by the caller may have repeated them.
            held_back = not safe_to_repeat and isinstance(self.retry, IdempotentRetry)
            raise self._error(response, method, url, retried=not held_back)
        return response

    @staticmethod
    def _error(response: requests.Response, method: str, url: str, *, retried: bool = True) -> APIError:
        """The APIError of an error answer; ``retried=False``: a 5xx to a request not safe to send twice."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            message = body.get("message") or response.reason or ""
            errors, code = body.get("errors"), body.get("code")
        else:
            message, errors, code = (response.text.strip()[:300] or response.reason or ""), None, None
        message = str(message)
        if response.status_code >= 500 and not retried:
            message += (f" (not retried: {method} is not safe to send twice, and the server may have done it "
                        "before failing; check before sending it again)")
        cls = error_class(response.status_code)
        return cls(response.status_code, message, errors=errors, code=code, method=method, url=url)

    def _json(self, method: str, path: str, **kwargs) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return _wrap(response.json())

    def _page(self, path: str, filter: Mapping[str, Any] | None, *, page: int, page_size: int,
              sort_by: str | None, order_by: str | None, params: Mapping[str, Any] | None = None,
              ) -> tuple[Page, dict[str, Any]]:
        """One page of a search, and the server's X-Pagination (empty when it sent none)."""
        query: dict[str, Any] = {**(params or {}), "page": int(page), "page_size": int(page_size)}
        if sort_by:
            query["sort_by"] = sort_by
        if order_by:
            query["order_by"] = order_by
        response = self.request("POST", path, json_body=to_json(dict(filter or {}), "filter"), params=query)
        items = [_wrap(item) for item in response.json()]
        try:
            pagination = json.loads(response.headers.get("X-Pagination") or "{}")
        except ValueError:
            pagination = {}
        if not isinstance(pagination, dict):
            pagination = {}
        try:
            total = int(pagination["total"])
        except (KeyError, TypeError, ValueError):
            # No (usable) header: at least the results before this page and on it.
            total = (int(page) - 1) * int(page_size) + len(items)
        return Page(items, total, int(page), int(page_size)), pagination

    def _search(self, path: str, filter: Mapping[str, Any] | None, sort_by: str | None,
                order_by: str | None, extra_params: Mapping[str, Any] | None = None) -> Iterator[Resource]:
        page = 1
        while True:
            result, pagination = self._page(path, filter, page=page, page_size=PAGE_SIZE, sort_by=sort_by,
                                            order_by=order_by, params=extra_params)
            yield from result.items
            next_page = pagination.get("next_page")
            if next_page:
                page = next_page
            elif pagination or len(result.items) < PAGE_SIZE:
                return
            else:
                page += 1

    # Users ------------------------------------------------------------------------------

    def register(self) -> Resource:
        """Register the token's user (POST /user); ``Conflict`` when already registered."""
        return self._json("POST", "/user")

    def get_self(self) -> Resource:
        return self._json("GET", "/user/self")

    def self_id(self) -> str:
        """Your user id (``id`` of GET /user/self), asked once per client: experiments' ``owner``."""
        with self._self_lock:
            if self._self_id is None:
                self._self_id = str(self.get_self()["id"])
            return self._self_id

    def update_self(self) -> Resource:
        """Refresh your user record from the token (e.g. a changed email)."""
        return self._json("PUT", "/user/self")

    def entitlements(self) -> list[str]:
        """The entitlements (groups) of your token, usable as permission entities."""
        return list(self._json("GET", "/entitlement")["items"])

    # Experiments ------------------------------------------------------------------------

    def create_experiment(self, name: str, description: str = "", public: bool = False,
                          permissions: Sequence[Mapping[str, str]] | Mapping[str, str] | None = None) -> Resource:
        """Create an experiment; you get Manage on it. ``permissions``: [{entity, level}] or {entity: level}."""
        body = {"name": name, "description": description or "", "public": bool(public),
                "permissions": _permissions(permissions)}
        return self._json("POST", "/experiment", json_body=body)

    def search_experiments(self, filter: Mapping[str, Any] | None = None, *, sort_by: str | None = None,
                           order_by: str | None = None, with_stats: bool = False) -> Iterator[Resource]:
        """Every experiment you may read that matches ``filter`` (a MongoDB-style filter), all pages.

        ``with_stats=True`` adds ``stats`` to each: runs, completed, running, failed, drift_detected,
        drift_rate and last_run_at.
        """
        extra = {"with_stats": "true"} if with_stats else None
        return self._search("/experiment/search", filter, sort_by, order_by, extra)

    def experiments_page(self, filter: Mapping[str, Any] | None = None, *, page: int = 1, page_size: int = PAGE_SIZE,
                         sort_by: str | None = None, order_by: str | None = None,
                         with_stats: bool = False) -> Page:
        """One page (from 1; at most 100 items) of ``search_experiments``, with the total matching."""
        extra = {"with_stats": "true"} if with_stats else None
        return self._page("/experiment/search", filter, page=page, page_size=page_size, sort_by=sort_by,
                          order_by=order_by, params=extra)[0]

    def get_experiment(self, experiment: str | Mapping[str, Any]) -> Resource:
        return self._json("GET", f"/experiment/{_id_of(experiment)}")

    def update_experiment(self, experiment: str | Mapping[str, Any], **fields: Any) -> Resource:
        """Change some fields (name, description, public, permissions) of an experiment (PATCH)."""
        if "permissions" in fields:
            fields["permissions"] = _permissions(fields["permissions"])
        return self._json("PATCH", f"/experiment/{_id_of(experiment)}", json_body=fields)

    def delete_experiment(self, experiment: str | Mapping[str, Any]) -> None:
        self.request("DELETE", f"/experiment/{_id_of(experiment)}")

    def find_experiment(self, name: str) -> Resource:
        """Your own experiment called ``name`` (its ``owner`` is you).

        Others' experiments never match by name, even when they granted you Edit: anyone can create
        an experiment named like yours, and must not receive your runs that way. Use such an
        experiment by its id (``get_experiment(id)``, ``DriftMonitor(model=..., experiment_id=id)``).
        Raises ``ExperimentNotOwned`` when only others' experiments carry the name, and
        ``ExperimentNotFound`` when no visible experiment does.
        """
        named = [experiment for experiment in self.search_experiments({"name": name})
                 if experiment.get("name") == name]
        if not named:
            raise ExperimentNotFound(
                404, f"no experiment named {name!r} is visible to you; create it with new_experiment() "
                     "or ask its owner for a permission")
        me = self.self_id()
        for experiment in named:
            if experiment.get("owner") == me:
                return experiment
        ids = [str(experiment.get("id")) for experiment in named]
        unknown_owner = all(experiment.get("owner") is None for experiment in named)
        why = ("the server does not say who owns experiments (an older server?)" if unknown_owner
               else f"{len(ids)} experiment(s) of that name belong to other users")
        raise ExperimentNotOwned(
            404, f"no experiment named {name!r} is yours: {why}. Names only resolve to your own experiments, "
                 "so that nobody can receive your runs by creating an experiment with your name. To report to "
                 f"one you trust, pass its id: DriftMonitor(model=..., experiment_id={ids[0]!r}) (or "
                 f"`drift-monitor drifts list {ids[0]}`, `detector run --experiment-id {ids[0]}`); ids: "
                 f"{', '.join(ids)}",
            experiment_ids=ids)

    # Drift runs -------------------------------------------------------------------------

    def create_drift(self, experiment: str | Mapping[str, Any], *, model: str, job_status: str = "Running",
                     tags: Sequence[str] | None = None, drift_detected: bool | None = None,
                     parameters: Mapping[str, Any] | None = None, concept_drift: Mapping[str, Any] | None = None,
                     data_drift: Mapping[str, Any] | None = None, run_id: str | uuid.UUID | None = None,
                     created_at: dt.datetime | str | None = None) -> Resource:
        """Report a drift run. With ``run_id`` (a UUID) a repeat of the same call returns the stored run."""
        body = drift_body(model=model, job_status=job_status, tags=tags, drift_detected=drift_detected,
                          parameters=parameters, concept_drift=concept_drift, data_drift=data_drift)
        if run_id is not None:
            body["id"] = str(run_id)
        if created_at is not None:
            body["created_at"] = _iso(created_at)
        return self.post_drift_body(_id_of(experiment), body)

    def post_drift_body(self, experiment_id: str, body: Mapping[str, Any]) -> Resource:
        """POST an already built drift-run body (used by the spool)."""
        return self._json("POST", f"/experiment/{experiment_id}/drift", json_body=dict(body))

    def get_drift(self, experiment: str | Mapping[str, Any], run_id: str) -> Resource:
        return self._json("GET", f"/experiment/{_id_of(experiment)}/drift/{run_id}")

    def replace_drift(self, experiment: str | Mapping[str, Any], run_id: str, *, model: str, job_status: str,
                      tags: Sequence[str] | None = None, drift_detected: bool | None = None,
                      parameters: Mapping[str, Any] | None = None, concept_drift: Mapping[str, Any] | None = None,
                      data_drift: Mapping[str, Any] | None = None) -> Resource:
        """Replace a drift run (PUT); results not given are removed. A finished run's status cannot change."""
        body = drift_body(model=model, job_status=job_status, tags=tags, drift_detected=drift_detected,
                          parameters=parameters, concept_drift=concept_drift, data_drift=data_drift)
        return self.put_drift_body(_id_of(experiment), run_id, body)

    def put_drift_body(self, experiment_id: str, run_id: str, body: Mapping[str, Any]) -> Resource:
        """PUT an already built drift-run body (used by the spool)."""
        return self._json("PUT", f"/experiment/{experiment_id}/drift/{run_id}", json_body=dict(body))

    def patch_drift(self, experiment: str | Mapping[str, Any], run_id: str, **fields: Any) -> Resource:
        """Change some fields of a drift run (PATCH)."""
        if "parameters" in fields:
            fields["parameters"] = to_json(fields["parameters"])
        return self._json("PATCH", f"/experiment/{_id_of(experiment)}/drift/{run_id}", json_body=fields)

    def delete_drift(self, experiment: str | Mapping[str, Any], run_id: str) -> None:
        self.request("DELETE", f"/experiment/{_id_of(experiment)}/drift/{run_id}")

    def iter_drifts(self, experiment: str | Mapping[str, Any], filter: Mapping[str, Any] | None = None,
                    since: _Moment | None = None, until: _Moment | None = None, *,
                    sort_by: str = "created_at", order_by: str = "asc", **run_filter: Any) -> Iterator[Resource]:
        """The drift runs of an experiment matching ``filter`` (a MongoDB-style filter) and the run filter, all pages.

        The run filter is that of the overviews (see "Overviews"): ``since <= created_at < until``,
        ``models``, ``tags``, ``job_statuses``, ``drift_type``, ``detected``; both must match.
        """
        params = _filter_params(since=since, until=until, **run_filter)
        return self._search(f"/experiment/{_id_of(experiment)}/drift/search", filter, sort_by, order_by, params)

    def drifts_page(self, experiment: str | Mapping[str, Any], filter: Mapping[str, Any] | None = None, *,
                    page: int = 1, page_size: int = PAGE_SIZE, sort_by: str = "created_at", order_by: str = "asc",
                    **run_filter: Any) -> Page:
        """One page (from 1; at most 100 runs) of what ``iter_drifts`` yields, with the total matching."""
        return self._page(f"/experiment/{_id_of(experiment)}/drift/search", filter, page=page, page_size=page_size,
                          sort_by=sort_by, order_by=order_by, params=_filter_params(**run_filter))[0]

    def get_drifts(self, experiment: str | Mapping[str, Any], filter: Mapping[str, Any] | None = None,
                   since: _Moment | None = None, until: _Moment | None = None,
                   as_dataframe: bool = False, **options: Any) -> Any:
        """All matching drift runs, oldest first: a list, or a pandas DataFrame (needs the ``pandas`` extra).

        ``options``: ``sort_by``, ``order_by`` and the run filter's keywords, as in ``iter_drifts``.
        """
        runs = list(self.iter_drifts(experiment, filter, since, until, **options))
        if not as_dataframe:
            return runs
        try:
            import pandas
        except ImportError:
            raise ImportError("as_dataframe=True needs pandas: pip install 'drift-monitor[pandas]'") from None
        frame = pandas.json_normalize([dict(run) for run in runs]) if runs else pandas.DataFrame()
        for column in ("created_at", "updated_at"):
            if column in frame:
                frame[column] = pandas.to_datetime(frame[column], utc=True)
        return frame


    # Overviews ---------------------------------------------------------------------------
    # The run filter, the same keywords on these methods and on iter_drifts, get_drifts and
    # drifts_page (one definition: `_filter_params`): since, until (datetime, date or ISO string;
    # without a zone, UTC), models, tags, job_statuses (a string or a list), drift_type
    # ("concept" | "data"), detected (bool).

    def drift_summary(self, experiment: str | Mapping[str, Any], *, interval: str = "auto",
                      stuck_after_minutes: int | None = None, **run_filter: Any) -> Resource:
        """Run counts per time bucket and model, totals, drift rate and stuck runs of an experiment.

        ``interval``: day, week, month or auto (at most 120 buckets). The window is widened to whole
        UTC days; the answer's ``since``/``until`` say which.
        """
        params = _filter_params(**run_filter)
        params["interval"] = interval
        if stuck_after_minutes is not None:
            params["stuck_after_minutes"] = int(stuck_after_minutes)
        return self._overview(experiment, "summary", params)

    def parameter_series(self, experiment: str | Mapping[str, Any], parameter: str, *, versus: str | None = None,
                         points: int = 1000, **run_filter: Any) -> Resource:
        """A numeric parameter (a dotted path such as ``data_drift.parameters.age.p_value``) over time.

        More than ``points`` matching runs come back as time buckets with mean, min, max and count
        (``downsampled``). With ``versus``, (x, y) pairs of two parameters, sampled beyond ``points``.
        """
        params = {**_filter_params(**run_filter), "parameter": parameter, "points": int(points)}
        if versus is not None:
            params["versus"] = versus
        return self._overview(experiment, "series", params)

    def feature_heatmap(self, experiment: str | Mapping[str, Any], *, result: str = "data_drift",
                        statistic: str = "p_value", interval: str = "auto", max_features: int = 40,
                        **run_filter: Any) -> Resource:
        """Mean, min, max and detections of a per-feature statistic, per feature and time bucket."""
        params = {**_filter_params(**run_filter), "result": result, "statistic": statistic, "interval": interval,
                  "max_features": int(max_features)}
        return self._overview(experiment, "heatmap", params)

    def drift_facets(self, experiment: str | Mapping[str, Any], *, sample: int = 200) -> Resource:
        """Models, tags, numeric parameter paths, features and statistics to offer in pickers."""
        return self._overview(experiment, "facets", {"sample": int(sample)})

    def _overview(self, experiment: str | Mapping[str, Any], name: str, params: dict[str, Any]) -> Resource:
        response = self.request("GET", f"/experiment/{_id_of(experiment)}/drift/{name}", params=params)
        # Nested objects too, so that ``summary.totals.runs`` reads like the JSON it mirrors.
        return _wrap_deep(response.json())


_Moment = dt.datetime | dt.date | str
_Strings = str | Sequence[str]


def _strings(value: _Strings | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def _filter_params(*, since: _Moment | None = None, until: _Moment | None = None, models: _Strings | None = None,
                   tags: _Strings | None = None, job_statuses: _Strings | None = None, drift_type: str | None = None,
                   detected: bool | None = None) -> dict[str, Any]:
    """The query arguments of the run filter (overviews and run search); lists become repeated arguments.

    The one definition of the run filter's keywords: an unknown keyword is a TypeError.
    """
    params: dict[str, Any] = {}
    if since is not None:
        params["since"] = _iso(since)
    if until is not None:
        params["until"] = _iso(until)
    for name, values in (("model", models), ("tag", tags), ("job_status", job_statuses)):
        if values is not None:
            params[name] = _strings(values)
    if drift_type is not None:
        params["drift_type"] = drift_type
    if detected is not None:
        params["detected"] = "true" if detected else "false"
    return params


def _wrap_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return Resource({key: _wrap_deep(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_wrap_deep(item) for item in value]
    return value


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Resource(value)
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value


def _permissions(permissions: Sequence[Mapping[str, str]] | Mapping[str, str] | None) -> list[dict]:
    if not permissions:
        return []
    if isinstance(permissions, Mapping):
        return [{"entity": entity, "level": level} for entity, level in permissions.items()]
    return [dict(permission) for permission in permissions]


_default_client: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The Client shared by the module-level helpers and DriftMonitor, built from the environment on first use."""
    global _default_client
    with _default_lock:
        if _default_client is None:
            _default_client = Client()
        return _default_client
