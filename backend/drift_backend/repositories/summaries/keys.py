"""Where a run is counted: its summary key, the document and `counts` entry that key names, and digest paths."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from urllib.parse import unquote

from ...run_document import DRIFT_TYPES, outcome

# The key fields inside one document's `counts`, in the order of the entry names.
ENTRY_FIELDS = ("job_status", "concept", "data", "drift_detected")
# Characters a field name segment must not carry: `.` and `$` break MongoDB paths, `/` joins the
# segments of a digest's path, `%` introduces the escapes themselves.
_ESCAPED = {char: f"%{ord(char):02X}" for char in "%./$"}


def utc_day(moment: datetime) -> datetime:
    """Midnight UTC of the day `moment` falls on (BSON dates are UTC; naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)


def summary_key(run: dict) -> dict:
    """Everything that decides where a run is counted."""
    return {
        "experiment_id": run["experiment_id"],
        "day": utc_day(run["created_at"]),
        "model": run.get("model"),
        "job_status": run.get("job_status"),
        **{drift_type: outcome(run, field) for drift_type, field in DRIFT_TYPES.items()},
        "drift_detected": run.get("drift_detected"),
    }


def summary_id(key: dict) -> str:
    """The `_id` of a key's document, so that every writer of one (experiment, day, model) meets on it."""
    return json.dumps([key["experiment_id"], key["day"].strftime("%Y-%m-%d"), key["model"]])


def entry_name(key: dict) -> str:
    """The name of a key's entry in its document's `counts`, e.g. "Completed|true|null|true"."""
    return "|".join(json.dumps(key[field]) if field != "job_status" else str(key[field])
                    for field in ENTRY_FIELDS)


def entry_key(name: str) -> dict:
    """The key fields an entry name stands for (the inverse of `entry_name`)."""
    status, *outcomes = name.split("|")
    return {"job_status": None if status == "None" else status,
            **{field: json.loads(value) for field, value in zip(ENTRY_FIELDS[1:], outcomes, strict=True)}}


def summary_rows(document: dict) -> list[dict]:
    """The counters of one document as rows: key fields, runs, first/last_created_at."""
    return [
        {"day": document["day"], "model": document.get("model"), **entry_key(name), "runs": entry.get("runs", 0),
         "first_created_at": entry.get("first_created_at"), "last_created_at": entry.get("last_created_at")}
        for name, entry in (document.get("counts") or {}).items()
    ]


def digest_key(drift_detected) -> str:
    """The name under `stats` of runs with this `drift_detected` ("true", "false" or "null")."""
    return json.dumps(drift_detected if isinstance(drift_detected, bool) else None)


def encode_segment(segment: str) -> str:
    return "".join(_ESCAPED.get(char, char) for char in segment)


def encode_path(segments: Iterable[str]) -> str:
    """One field name for a path below a digest root: percent-escaped segments joined by `/`."""
    return "/".join(encode_segment(segment) for segment in segments)


def decode_path(name: str) -> list[str]:
    return [unquote(segment) for segment in name.split("/")]
