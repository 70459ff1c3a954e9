"""Tables of the dashboard as pandas frames, and the CSV/JSON exports of drift runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .compare import flatten

EXPERIMENT_COLUMNS = ["name", "visibility", "runs", "last_run", "drift_share", "description", "id"]
RUN_COLUMNS = ["created_at", "model", "job_status", "drift_detected", "concept_drift", "data_drift", "tags", "id"]


def timestamps(values: Sequence[Any]) -> pd.Series:
    """API timestamps (ISO 8601, Z) as timezone-aware UTC datetimes; missing ones as NaT."""
    return pd.to_datetime(pd.Series(list(values), dtype="object"), utc=True, format="ISO8601")


def format_time(value: str | None) -> str:
    """An API timestamp as ``YYYY-MM-DD HH:MM`` (UTC), or a dash when there is none."""
    moment = timestamps([value]).iloc[0]
    return "—" if pd.isna(moment) else f"{moment:%Y-%m-%d %H:%M}"


def time_ago(value: str | None, now: pd.Timestamp | None = None) -> str:
    """How long ago an API timestamp was, roughly: "just now", "5 min ago", "3 h ago", "12 days ago"."""
    moment = timestamps([value]).iloc[0]
    if pd.isna(moment):
        return "—"
    seconds = ((now or pd.Timestamp.now(tz="UTC")) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def experiments_frame(experiments: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per experiment, with the run statistics of ``search?with_stats=true``."""
    rows = []
    for experiment in experiments:
        stats = experiment.get("stats") or {}
        rows.append({
            "name": experiment.get("name"),
            "visibility": "public" if experiment.get("public") else "private",
            "runs": stats.get("runs", 0),
            "last_run": stats.get("last_run_at"),
            "drift_share": stats.get("drift_rate"),
            "description": experiment.get("description") or "",
            "id": experiment.get("id"),
        })
    frame = pd.DataFrame(rows, columns=EXPERIMENT_COLUMNS)
    frame["last_run"] = timestamps(frame["last_run"])
    return frame.astype({"runs": "int64", "drift_share": "float64"})


def _result(run: Mapping[str, Any], name: str) -> str:
    result = run.get(name)
    if not result:
        return ""
    return "detected" if result.get("drift") else "not detected"


def runs_frame(runs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per drift run: when, which model, status and results at a glance."""
    rows = [{
        "created_at": run.get("created_at"),
        "model": run.get("model"),
        "job_status": run.get("job_status"),
        "drift_detected": bool(run.get("drift_detected")),
        "concept_drift": _result(run, "concept_drift"),
        "data_drift": _result(run, "data_drift"),
        "tags": ", ".join(run.get("tags") or []),
        "id": run.get("id"),
    } for run in runs]
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS)
    frame["created_at"] = timestamps(frame["created_at"])
    return frame


def stuck_runs_frame(stuck_runs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(stuck_runs), columns=["created_at", "model", "id"])
    frame["created_at"] = timestamps(frame["created_at"])
    return frame


def permissions_frame(permissions: Sequence[Mapping[str, Any]], own_entities: Sequence[str] = ()) -> pd.DataFrame:
    """Who holds which level; ``you`` marks entries that apply to the viewer."""
    rows = [{"entity": permission["entity"], "level": permission["level"],
             "you": permission["entity"] in own_entities} for permission in permissions]
    return pd.DataFrame(rows, columns=["entity", "level", "you"]).astype({"you": "bool"})


def export_csv(runs: Sequence[Mapping[str, Any]]) -> bytes:
    """The runs as CSV: one column per dotted path (``data_drift.parameters.age.p_value``)."""
    rows = []
    for run in runs:
        flat = flatten(dict(run))
        # Lists (tags, per-bin values) are kept as JSON, so a cell parses back to what was sent.
        rows.append({path: json.dumps(value) if isinstance(value, (list, dict)) else value
                     for path, value in flat.items()})
    columns = list(dict.fromkeys(path for row in rows for path in row))
    for first in reversed(("id", "created_at", "model", "job_status", "drift_detected")):
        if first in columns:
            columns.remove(first)
            columns.insert(0, first)
    return pd.DataFrame(rows, columns=columns).to_csv(index=False).encode("utf-8")


def export_json(runs: Sequence[Mapping[str, Any]]) -> bytes:
    """The runs exactly as the API returned them, as a JSON array."""
    return json.dumps([dict(run) for run in runs], indent=2, ensure_ascii=False).encode("utf-8")
