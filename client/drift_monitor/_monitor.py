"""``DriftMonitor``: report one drift run from a ``with`` block, and never lose its result."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import warnings
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from ._api import Client, default_client, drift_body
from ._exceptions import (
    APIError,
    AuthenticationError,
    DriftMonitorError,
    ExperimentNotFound,
    NotFound,
    PermissionDenied,
    ServerError,
    TransportError,
    ValidationError,
)
from ._serialize import to_json
from ._spool import ReplayResult, Spool

__all__ = ["DriftMonitor", "sync"]

log = logging.getLogger("drift_monitor")

#: Failures that may pass: the result is spooled and sent later.
TRANSIENT = (TransportError, ServerError)

_ADVICE = {
    AuthenticationError: "check DRIFT_MONITOR_MYTOKEN / DRIFT_MONITOR_TOKEN (expired or revoked?)",
    PermissionDenied: "register first (drift_monitor.register(accept_terms=True)) or ask the experiment's "
                      "owner for Edit permission",
    ValidationError: "the server refused the run's content; see the field errors",
}


def _explain(error: APIError) -> APIError:
    advice = next((text for cls, text in _ADVICE.items() if isinstance(error, cls)), None)
    if advice and hasattr(error, "add_note"):  # Python >= 3.11
        error.add_note(f"drift-monitor: {advice}")
    return error


def sync(client: Client | None = None) -> ReplayResult:
    """Send the runs waiting in the spool (DRIFT_MONITOR_SPOOL_DIR); return what was done."""
    client = client or default_client()
    return Spool(client.settings.spool_dir).replay(client)


class DriftMonitor:
    """Report one drift run of ``experiment``: the name of one of *your* experiments, or an experiment
    from ``find_experiment``/``get_experiment``; or ``experiment_id=`` for any experiment you may edit.

    >>> with DriftMonitor("my-experiment", "model-1", tags=["nightly"]) as monitor:
    ...     monitor.concept(detected, {"p_value": p})
    ...     monitor.data(detected, {"psi": psi})

    Entering creates the run as Running, leaving marks it Completed (or Failed when the block
    raised, or called ``fail(reason)``; an exception always propagates unchanged). A monitor
    reports one run: create a new DriftMonitor for the next. When the server cannot be reached, or
    keeps failing, the run is written to the spool and sent by a later ``DriftMonitor`` or by
    ``drift_monitor.sync()``; a warning is logged and your code goes on. Errors that retrying
    cannot fix (401, 403, unknown experiment, 422) raise at once. ``strict=True`` (or
    DRIFT_MONITOR_STRICT=true) raises on every failure instead of spooling.

    A name only resolves to an experiment you own: if only other users' experiments carry it,
    ``ExperimentNotOwned`` says so and lists their ids, because anyone can create an experiment
    named like yours and grant you Edit on it to collect your runs. To report to an experiment
    someone shared with you, pass ``experiment_id=``.

    Settings (``url=``, ``token=``, ``spool_dir=``, ...) override the environment when no
    ``client`` is given.
    """

    def __init__(self, experiment: str | Mapping[str, Any] | None = None, model: str | None = None,
                 tags: Sequence[str] | None = None, *, experiment_id: str | None = None, client: Client | None = None,
                 strict: bool | None = None, **settings: Any):
        # drift-monitor 1.1 keyword names
        experiment = settings.pop("experiment_name", experiment)
        model = settings.pop("model_id", model)
        if experiment is not None and experiment_id is not None:
            raise TypeError("pass either an experiment (name) or experiment_id, not both")
        if experiment_id is not None:
            experiment = {"id": str(experiment_id), "name": None}
        if experiment is None or model is None:
            raise TypeError("DriftMonitor needs an experiment (a name, or experiment_id=...) and a model")
        if client is not None and settings:
            raise TypeError("pass settings either to the Client or to DriftMonitor, not both")
        # Without settings, share the default client (and its cached access token).
        self._client = client if client is not None else (Client(**settings) if settings else default_client())
        self.strict = self._client.settings.strict if strict is None else bool(strict)
        self._experiment_name = experiment if isinstance(experiment, str) else experiment.get("name")
        self._experiment_id: str | None = None if isinstance(experiment, str) else str(experiment["id"])
        self.model = str(model)
        self.tags = list(tags or [])
        self.run_id: str | None = None
        self._active = False
        self._used = False  # set once a run was started: one monitor, one run
        self._spooled = False
        self._created_at: dt.datetime | None = None
        self._overall: bool | None = None  # the 1.1 form's result, ``monitor(detected, ...)``
        self._parameters: dict[str, Any] = {}
        self._concept: dict[str, Any] | None = None
        self._data: dict[str, Any] | None = None
        self._failure: str | None = None

    def __repr__(self) -> str:
        return f"DriftMonitor({self._experiment_name or self._experiment_id!r}, {self.model!r}, run_id={self.run_id!r})"

    @property
    def spool(self) -> Spool:
        """Deprecated: the spool is internal; use ``drift_monitor.sync()`` and the ``drift-monitor spool`` command."""
        warnings.warn("DriftMonitor.spool is internal and will be removed; use drift_monitor.sync() or "
                      "`drift-monitor spool status`", DeprecationWarning, stacklevel=2)
        return self._local_spool()

    @property
    def spooled(self) -> bool:
        """Whether this run's records went to the spool instead of the server."""
        return self._spooled

    @property
    def drift_detected(self) -> bool:
        """The run's ``drift_detected``, as the server stores it: whether the concept or the data result
        detected drift, or, when neither was reported, the overall result (``monitor(detected, ...)``).
        The last call of each kind counts, whatever order the calls came in."""
        results = [result for result in (self._concept, self._data) if result is not None]
        if results:
            return any(result["drift"] for result in results)
        return bool(self._overall)

    # Context ------------------------------------------------------------------------------

    def __enter__(self) -> DriftMonitor:
        if self._used:
            state = "is reporting" if self._active else "already reported"
            raise RuntimeError(f"this DriftMonitor {state} run {self.run_id}; a monitor reports one run: "
                               "create a new DriftMonitor for the next one")
        server_took_spool = self._replay_spool()
        self.run_id = str(uuid.uuid4())
        self._created_at = dt.datetime.now(dt.timezone.utc)
        body = {**drift_body(model=self.model, job_status="Running", tags=self.tags),
                "created_at": self._created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        try:
            if not server_took_spool:
                # Runs are still waiting: queue behind them, in order, without waiting on the server twice.
                raise TransportError("the server could not take the runs already waiting in the spool")
            if self._experiment_id is None:
                self._experiment_id = self._client.find_experiment(self._experiment_name)["id"]
            self._client.post_drift_body(self._experiment_id, {**body, "id": self.run_id})
        except TRANSIENT as error:
            if self.strict:
                raise
            self._to_spool("create", body, error)
        except NotFound as error:
            if not isinstance(error, ExperimentNotFound):
                error = ExperimentNotFound(404, f"experiment {self._experiment_id!r} does not exist or is not "
                                                f"visible to you ({error.message})")
            raise error
        except APIError as error:
            _explain(error)
            raise
        self._active = self._used = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if not self._active:
            return None
        self._active = False
        failed = exc_type is not None or self._failure is not None
        parameters = self._parameters if self._failure is None else {**self._parameters, "error": self._failure}
        body = drift_body(model=self.model, job_status="Failed" if failed else "Completed", tags=self._final_tags(),
                          drift_detected=self.drift_detected, parameters=parameters,
                          concept_drift=self._concept, data_drift=self._data)
        try:
            if self._spooled:  # keep this run's operations in order: after a spooled create, spool the rest
                self._to_spool("replace", body, None)
            else:
                try:
                    self._client.put_drift_body(self._experiment_id, self.run_id, body)
                except TRANSIENT as error:
                    if self.strict:
                        raise
                    self._to_spool("replace", body, error)
        except Exception as error:
            if exc is None:
                if isinstance(error, APIError):
                    _explain(error)
                raise
            # Never replace the user's exception with ours.
            log.error("drift-monitor: could not mark run %s as Failed: %s", self.run_id, error)
            if hasattr(exc, "add_note"):
                exc.add_note(f"drift-monitor: the run {self.run_id} could not be marked Failed: {error}")
        return None  # the user's exception, if any, propagates unchanged

    # Results --------------------------------------------------------------------------------

    def _require_active(self) -> None:
        if not self._active:
            raise RuntimeError("DriftMonitor results can only be reported inside its `with` block")

    def concept(self, detected: bool, parameters: Mapping[str, Any] | None = None) -> None:
        """Record the concept-drift result (sent when the block ends; a later call replaces it)."""
        self._require_active()
        self._concept = {"drift": bool(detected), "parameters": to_json(dict(parameters or {}), "concept.parameters")}

    def data(self, detected: bool, parameters: Mapping[str, Any] | None = None) -> None:
        """Record the data-drift result (sent when the block ends; a later call replaces it)."""
        self._require_active()
        self._data = {"drift": bool(detected), "parameters": to_json(dict(parameters or {}), "data.parameters")}

    def __call__(self, detected: bool, parameters: Mapping[str, Any] | None = None) -> None:
        """drift-monitor 1.1 style: one overall result (``drift_detected`` and ``parameters``)."""
        self._require_active()
        self._parameters = to_json(dict(parameters or {}))
        self._overall = bool(detected)

    def fail(self, reason: str | BaseException) -> None:
        """Mark the run Failed, with ``reason`` in its ``parameters.error``, when the block ends.

        For a failure the job handled itself: nothing is raised, the block goes on, and leaving it
        without an exception stores the run as Failed (sent or spooled like every result).
        """
        self._require_active()
        if isinstance(reason, BaseException):
            reason = f"{type(reason).__name__}: {reason}"
        self._failure = str(reason)

    # Internals ------------------------------------------------------------------------------

    def _local_spool(self) -> Spool:
        return Spool(self._client.settings.spool_dir)

    def _final_tags(self) -> list[str]:
        tags = list(self.tags)
        for tag, result in (("concept_drift", self._concept), ("data_drift", self._data)):
            if result is not None and tag not in tags:
                tags.append(tag)
        return tags

    def _to_spool(self, op: str, body: dict, error: DriftMonitorError | None) -> None:
        experiment = {"id": self._experiment_id, "name": self._experiment_name}
        path = self._local_spool().add(op, experiment, self.run_id, body)
        self._spooled = True
        if error is not None:
            log.warning("drift-monitor: the server is unavailable (%s); run %s saved to %s and will be sent "
                        "by the next DriftMonitor or drift_monitor.sync()", error, self.run_id, path.parent)

    def _replay_spool(self) -> bool:
        """Send runs spooled earlier; False when some must still wait (the server cannot take them)."""
        spool = self._local_spool()
        if not spool.pending():
            return True
        try:
            result = spool.replay(self._client)
        except Exception as error:
            if self.strict:
                raise
            log.warning("drift-monitor: could not send spooled runs: %s", error)
            return False
        if result.uploaded:
            log.info("drift-monitor: sent %d spooled operation(s)", result.uploaded)
        return not result.remaining
