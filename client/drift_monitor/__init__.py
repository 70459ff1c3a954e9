"""Report drift-detection runs to a Drift Monitoring server, without ever losing a result.

    >>> import drift_monitor
    >>> with drift_monitor.DriftMonitor("my-experiment", "model-1") as monitor:
    ...     monitor.concept(True, {"p_value": 0.01})
    ...     monitor.data(False, {"psi": 0.02})

Importing this package reads no setting and makes no request; see the README for settings.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping as _Mapping
from collections.abc import Sequence as _Sequence
from typing import Any as _Any

from ._api import DEFAULT_RETRY, Client, Page, Resource, default_client
from ._exceptions import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    Conflict,
    DriftMonitorError,
    ExperimentNotFound,
    ExperimentNotOwned,
    InsecureTransportWarning,
    NotFound,
    PermissionDenied,
    ServerError,
    TransportError,
    ValidationError,
)
from ._monitor import DriftMonitor
from ._monitor import sync as _sync
from ._retry import IdempotentRetry
from ._settings import Settings
from ._spool import ReplayResult
from ._version import VERSION as __version__

__all__ = [
    "APIError",
    "AuthenticationError",
    "Client",
    "ConfigurationError",
    "Conflict",
    "DEFAULT_RETRY",
    "DriftMonitor",
    "DriftMonitorError",
    "ExperimentNotFound",
    "ExperimentNotOwned",
    "IdempotentRetry",
    "InsecureTransportWarning",
    "NotFound",
    "Page",
    "PermissionDenied",
    "ReplayResult",
    "Resource",
    "ServerError",
    "Settings",
    "TransportError",
    "ValidationError",
    "default_client",
    "find_experiment",
    "get_drifts",
    "new_experiment",
    "register",
    "sync",
]

def register(accept_terms: bool = False, *, client: Client | None = None) -> Resource:
    """Register the token's user, or refresh the record if already registered (as in 1.1).

    ``accept_terms=True`` confirms you accept the service's terms of use.
    """
    if not accept_terms:
        raise ValueError("You must accept the terms of service: register(accept_terms=True)")
    client = client or default_client()
    try:
        return client.register()
    except Conflict:
        return client.update_self()


def new_experiment(name: str, description: str = "", public: bool = False,
                   permissions: _Sequence[_Mapping[str, str]] | _Mapping[str, str] | None = None, *,
                   client: Client | None = None) -> Resource:
    """Create an experiment (you get Manage on it); ``Conflict`` if the name is taken."""
    return (client or default_client()).create_experiment(name, description, public, permissions)


def find_experiment(name: str, *, client: Client | None = None) -> Resource:
    """Your own experiment called ``name``; ``ExperimentNotOwned`` when only others' carry it,
    ``ExperimentNotFound`` when none is visible to you."""
    return (client or default_client()).find_experiment(name)


def get_drifts(experiment: str | _Mapping[str, _Any], filter: _Mapping[str, _Any] | None = None,
               since: _dt.datetime | str | None = None, until: _dt.datetime | str | None = None,
               as_dataframe: bool = False, *, client: Client | None = None) -> _Any:
    """All drift runs of an experiment (an id or an experiment) matching the filter and time window."""
    return (client or default_client()).get_drifts(experiment, filter, since, until, as_dataframe)


def sync(*, client: Client | None = None) -> ReplayResult:
    """Send the runs waiting in the local spool; returns the counts (uploaded, rejected, corrupt, remaining)."""
    return _sync(client or default_client())
