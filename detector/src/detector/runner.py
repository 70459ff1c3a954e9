"""`fit` and `run`: configuration in, data read, statistics computed, artifacts and the server updated.

The only module that combines I/O (sources, artifacts, the drift-monitor client) with the pure
statistics in ``profile`` and ``detection``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from . import __version__
from .artifacts import ArtifactStore
from .config import (
    PROFILE_KEYS,
    Config,
    apply_overrides,
    environment_overrides,
    parse_moment,
    read_config_file,
)
from .config_keys import KEYS
from .detection import detect_concept_drift, detect_data_drift, required_columns
from .errors import ConfigError, DataError
from .plugins import load_plugin
from .profile import fit_profile, resolve_features
from .progress import Progress
from .registry import registry_for
from .redact import mask_secrets, mask_url, scrub, without_masked
from .sources import describe, read_source

__all__ = ["RunOutcome", "fit", "load_fit_config", "load_layered_config", "load_run_config", "report_failure",
           "resolve_window", "run_once"]

log = logging.getLogger("detector")


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


def load_layered_config(config_path: str | None, overrides: Mapping[str, Any],
                        environ: Mapping[str, str] | None = None) -> tuple[dict, Config]:
    """(the file's mapping, the config of file < environment < command line), without stored settings."""
    file_data = read_config_file(config_path) if config_path else {}
    layered = apply_overrides(apply_overrides(file_data, environment_overrides(environ)), overrides)
    return file_data, Config.from_mapping(layered)


def load_fit_config(config_path: str | None, overrides: Mapping[str, Any],
                    environ: Mapping[str, str] | None = None) -> Config:
    return load_layered_config(config_path, overrides, environ)[1]


def _comparable(value: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(value))


def load_run_config(config_path: str | None, overrides: Mapping[str, Any],
                    environ: Mapping[str, str] | None = None) -> Config:
    """The project's stored configuration < file < environment < command line.

    A file may repeat the keys that shape the profile (features, label, ...) but not change them:
    that needs a new `detector fit`. Raises ProjectNotFound for a project never fitted.
    """
    file_data, preliminary = load_layered_config(config_path, overrides, environ)
    project = preliminary.require_project()
    store = ArtifactStore(preliminary.artifacts, preliminary.storage_options)
    # Masked credentials in the stored copy must not become settings: the layers above supply them.
    stored = without_masked(store.load_configuration(project))
    changed = [key for key in PROFILE_KEYS
               if key in file_data and _comparable(file_data[key]) != _comparable(stored.get(key))]
    if changed:
        raise ConfigError(f"{', '.join(changed)} differ(s) from what project {project!r} was fitted with; "
                          f"run `detector fit` again to change {'them' if len(changed) > 1 else 'it'}")
    merged = {**stored, **file_data}
    merged = apply_overrides(apply_overrides(merged, environment_overrides(environ)), overrides)
    return Config.from_mapping(merged)


def _stored_configuration(config: Config) -> dict:
    """What is kept in configuration.yaml: the configuration as given, credentials masked.

    Readers of the artifacts location (and of `detector show`) see no data-source password,
    presigned-URL signature, storage key or plug-in token; runs take those from the file they
    pass, the environment (DETECTOR_CURRENT, AWS_* for s3fs, ...), never from this copy.
    """
    data = config.to_dict()
    for declared in KEYS:  # the keys declared secret="url" or "options"
        if declared.secret == "url" and isinstance(data.get(declared.name), str):
            data[declared.name] = mask_url(data[declared.name])
        elif declared.secret == "url" and isinstance(data.get(declared.name), dict):
            # Not the filter or the query: those are data, and a column may well be called "token".
            source = data[declared.name]
            for part in ("url", "options"):
                if part in source:
                    source[part] = mask_secrets(source[part])
        elif declared.secret == "options" and declared.name in data:
            data[declared.name] = mask_secrets(data[declared.name])
    return data


# --------------------------------------------------------------------------------------
# Fit
# --------------------------------------------------------------------------------------


def fit(config: Config, progress: Progress | None = None) -> dict:
    """Read the reference data, fit its profile and store the project; returns a summary."""
    progress = progress or Progress("off")
    project = config.require_project()
    if config.reference is None:
        raise ConfigError("no reference data: pass --reference SOURCE, set DETECTOR_REFERENCE or `reference:`")
    if config.since == "last":
        raise ConfigError("since: last applies to `detector run`, not to `fit`")
    since = parse_moment(config.since) if config.since else None
    until = parse_moment(config.until) if config.until else None
    store = ArtifactStore(config.artifacts, config.storage_options)
    columns = None
    if config.features is not None:
        columns = [spec.name for spec in config.features]
        columns += [name for name in (config.label, config.prediction) if name]
    with progress.task(f"reading reference data from {describe(config.reference)}"):
        frame = read_source(config.reference, columns, timestamp_column=config.timestamp_column, since=since,
                            until=until)
    log.info("reference: %d rows x %d columns from %s", len(frame), frame.shape[1], describe(config.reference))
    with progress.task("profiling columns", total=len(resolve_features(frame, config))) as advance:
        profile, sample = fit_profile(frame, config, source=describe(config.reference), progress=advance)
    profile["detector_version"] = __version__
    profile["window"] = {"since": _iso(since), "until": _iso(until)}
    store.save_project(project, _stored_configuration(config), profile, sample)
    kinds = [spec["type"] for spec in profile["features"].values()]
    summary = {
        "project": project,
        "artifacts": store.url,
        "n_rows": profile["n_rows"],
        "numeric_features": kinds.count("numeric"),
        "categorical_features": kinds.count("categorical"),
        "task": profile["task"],
        "sample_rows": profile["row_sample"]["rows"],
    }
    log.info("fitted project %s: %d numeric and %d categorical features from %d rows, stored in %s", project,
             summary["numeric_features"], summary["categorical_features"], summary["n_rows"], store.url)
    return summary


# --------------------------------------------------------------------------------------
# Run
# --------------------------------------------------------------------------------------


@dataclass
class RunOutcome:
    """What one detection run found and where it went."""

    project: str
    status: str = "Running"
    run_id: str | None = None
    reported: bool = False
    spooled: bool = False
    drift_detected: bool = False
    window_start: str | None = None
    window_end: str | None = None
    n_rows: int = 0
    data_drift: dict | None = None  # {"drift": bool, "parameters": {...}}
    concept_drift: dict | None = None
    parameters: dict = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        parts = [f"project {self.project}: {self.status}"]
        if self.data_drift:
            data = self.data_drift["parameters"]
            if "n_drifted" in data and "n_features" in data:
                parts.append(f"data drift {'DETECTED' if self.data_drift['drift'] else 'none'} "
                             f"({data['n_drifted']}/{data['n_features']} features drifted)")
            else:
                parts.append(f"data drift {'DETECTED' if self.data_drift['drift'] else 'none'} (plug-in)")
        if self.concept_drift:
            concept = self.concept_drift["parameters"]
            parts.append(f"concept drift {'DETECTED' if self.concept_drift['drift'] else 'none'} "
                         f"({concept['metric']} {concept['reference']:.4g} -> {concept['current']:.4g}, "
                         f"{concept['confidence']:.0%} CI of the change [{concept['ci_low']:.4g}, "
                         f"{concept['ci_high']:.4g}])")
        if self.n_rows:
            parts.append(f"{self.n_rows} rows")
        if self.run_id:
            parts.append(f"run {self.run_id}{' (spooled)' if self.spooled else ''}")
        if self.error:
            parts.append(f"error: {self.error}")
        return "; ".join(parts)


def resolve_window(config: Config, last_window_end: str | None,
                   now: dt.datetime | None = None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(since, until) of a run. ``since: last`` starts where the last Completed run's window ended
    (no lower bound the first time) and ends now, so a scheduled run only sees new rows."""
    now = now or dt.datetime.now(dt.timezone.utc)
    since = parse_moment(config.since, allow_last=True) if config.since else None
    until = parse_moment(config.until) if config.until else None
    if since == "last":
        since = parse_moment(last_window_end) if last_window_end else None
        until = until or now
    if (since is not None or until is not None) and not config.timestamp_column:
        raise ConfigError("a time window (--since/--until) needs timestamp_column in the config")
    if since is not None and until is not None and since >= until:
        raise ConfigError(f"the window is empty: since {_iso(since)} is not before until {_iso(until)}")
    return since, until


def _error_text(error: BaseException, config: Config | None = None) -> str:
    """The error as stored in a run's ``parameters.error``: a reader's library may quote the raw URL."""
    text = f"{type(error).__name__}: {error}"
    if config is not None:
        text = scrub(text, *(source.url for source in (config.current, config.reference) if source))
    return text


def run_once(config: Config, *, client=None, progress: Progress | None = None) -> RunOutcome:
    """One detection run of ``config.project`` on ``config.current``, reported unless ``report`` is false.

    A failure while reading or testing the batch (missing columns, wrong types, empty batch, a
    plug-in raising) is reported as a Failed run whose ``parameters.error`` says why, then raised.
    """
    progress = progress or Progress("off")
    project = config.require_project()
    if config.current is None:
        raise ConfigError("no current data: pass --current SOURCE, set DETECTOR_CURRENT or `current:` in the config")
    store = ArtifactStore(config.artifacts, config.storage_options)
    profile = store.load_profile(project)
    entry = store.index().get("projects", {}).get(project, {})
    since, until = resolve_window(config, entry.get("last_window_end"))
    plugin = load_plugin(config.detector) if config.detector else None
    # Without an upper bound the batch ends now: that is where a later `since: last` starts.
    window_end = until or (dt.datetime.now(dt.timezone.utc) if config.timestamp_column else None)
    outcome = RunOutcome(project=project, window_start=_iso(since), window_end=_iso(window_end))
    outcome.parameters = {
        "detector": f"drift-detector {__version__}",
        "project": project,
        "profile_fitted_at": profile.get("fitted_at"),
        "source": describe(config.current),
        **({"plugin": config.detector} if plugin else {}),
        # The window the rows were selected by (the dashboard shows it), only when there was one.
        **({"window_start": outcome.window_start} if since is not None else {}),
        **({"window_end": outcome.window_end} if since is not None or until is not None else {}),
    }

    def detect() -> None:
        data, concept, rows = _detect(config, profile, store, plugin, since, until, progress)
        outcome.n_rows = rows
        outcome.parameters["n_rows"] = rows
        outcome.data_drift = {"drift": data[0], "parameters": data[1]}
        if concept is not None:
            outcome.concept_drift = {"drift": concept[0], "parameters": concept[1]}
        outcome.drift_detected = bool(data[0] or (concept is not None and concept[0]))

    try:
        if config.report:
            monitor = _monitor(config, client)
            with monitor:
                outcome.run_id = monitor.run_id
                try:
                    detect()
                except BaseException as error:  # also SIGTERM (Terminated): the run is marked Failed with why
                    outcome.error = _error_text(error, config)
                    monitor(False, outcome.parameters)
                    monitor.fail(outcome.error)
                    raise
                # The overall result first: DriftMonitor's data()/concept() only add to it.
                monitor(outcome.drift_detected, outcome.parameters)
                monitor.data(outcome.data_drift["drift"], outcome.data_drift["parameters"])
                if outcome.concept_drift is not None:
                    monitor.concept(outcome.concept_drift["drift"], outcome.concept_drift["parameters"])
            outcome.reported, outcome.spooled = True, monitor.spooled
        else:
            try:
                detect()
            except BaseException as error:
                outcome.error = _error_text(error, config)
                raise
        outcome.status = "Completed"
    except BaseException:
        outcome.status = "Failed"
        outcome.reported = outcome.reported or (config.report and outcome.run_id is not None)
        _record(store, outcome)
        log.error("%s", outcome.summary())
        raise
    _record(store, outcome)
    log.info("%s", outcome.summary())
    return outcome


def _record(store: ArtifactStore, outcome: RunOutcome) -> None:
    try:
        store.record_run(outcome.project, status=outcome.status, run_id=outcome.run_id,
                         drift_detected=outcome.drift_detected if outcome.status == "Completed" else None,
                         window_start=outcome.window_start, window_end=outcome.window_end, error=outcome.error)
    except Exception as error:  # the run itself is done and reported; the index is bookkeeping
        log.warning("could not update the artifacts index: %s", error)


def _detect(config: Config, profile: dict, store: ArtifactStore, plugin, since, until,
            progress: Progress) -> tuple[tuple[bool, dict], tuple[bool, dict] | None, int]:
    features = required_columns(profile)
    optional = [spec["column"] for spec in (profile.get("label"), profile.get("prediction")) if spec]
    window = f" from {_iso(since) or 'the start'} until {_iso(until) or 'the end'}" if since or until else ""
    with progress.task(f"reading current data from {describe(config.current)}{window}"):
        frame = read_source(config.current, features, optional=optional, timestamp_column=config.timestamp_column,
                            since=since, until=until)
    if frame.empty:
        raise DataError(f"the current batch is empty: {describe(config.current)} has no rows{window}")
    log.info("current: %d rows x %d columns from %s%s", len(frame), frame.shape[1], describe(config.current), window)
    # The plug-in, when configured, is dispatched by the same registry as the built-in tests.
    registry = registry_for(config, plugin=plugin)
    task = (progress.task(f"running detector {config.detector}") if plugin is not None
            else progress.task("testing features", total=len(features)))
    with task as advance:
        data = detect_data_drift(profile, frame, config, progress=advance, registry=registry,
                                 reference_sample=lambda: store.load_sample(config.require_project()))
    concept = detect_concept_drift(profile, frame, config)
    if optional and concept is None:
        log.info("no labelled rows with predictions in the batch: concept drift not tested")
    return data, concept, int(len(frame))


def _monitor(config: Config, client):
    """The DriftMonitor of a run: to ``experiment_id`` when given, else to *your* experiment of that name.

    A name never resolves to someone else's experiment (see drift_monitor.ExperimentNotOwned); an
    experiment shared with you is reported to by its id.
    """
    from drift_monitor import DriftMonitor

    if config.experiment_id:
        return DriftMonitor(model=config.model_name, experiment_id=config.experiment_id, tags=list(config.tags),
                            client=client)
    return DriftMonitor(config.experiment_name, config.model_name, tags=list(config.tags), client=client)


def report_failure(config: Config, error: BaseException, *, client=None) -> str | None:
    """Report a run that could not even start (e.g. an unknown project) as Failed; returns its id.

    Only when reporting is on; a failure to report is logged, never raised over ``error``.
    """
    if not config.report or not config.experiment_name or not config.model_name:
        return None
    from drift_monitor import DriftMonitorError

    parameters = {"detector": f"drift-detector {__version__}", "project": config.project}
    monitor = _monitor(config, client)
    try:
        with monitor:
            monitor(False, parameters)
            monitor.fail(_error_text(error, config))  # stored as parameters.error
    except DriftMonitorError as report_error:
        log.warning("could not report the failed run to the server: %s", report_error)
        return None
    return monitor.run_id


def outcome_json(outcome: RunOutcome) -> str:
    return json.dumps(outcome.to_dict(), indent=2, default=str)
