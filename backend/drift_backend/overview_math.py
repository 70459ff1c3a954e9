"""Pure arithmetic of the drift overviews: time buckets, the `auto` interval, downsampling and feature ranking.

No database here: `repositories/drift_analytics.py` reads rows (from the summaries or the runs) and
hands them to these functions, which tests call directly.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

from .repositories.summaries.keys import utc_day
from .run_document import COUNTERS

INTERVALS = ("day", "week", "month")
# `auto` picks the smallest interval that gives at most this many buckets.
MAX_BUCKETS = 120


# Intervals -----------------------------------------------------------------------------------


def bucket_start(day: datetime, interval: str) -> datetime:
    """Start of the day, ISO week (Monday) or calendar month that `day` falls in."""
    day = utc_day(day)
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def bucket_count(first: datetime, last: datetime, interval: str) -> int:
    """How many buckets of `interval` the days from `first` to `last` (both included) fall in."""
    first, last = bucket_start(first, interval), bucket_start(last, interval)
    if interval == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return (last - first).days // (7 if interval == "week" else 1) + 1


def choose_interval(requested: str, first: datetime | None, last: datetime | None) -> str:
    """`requested`, or for `auto` the smallest interval giving at most MAX_BUCKETS buckets over [first, last]."""
    if requested != "auto":
        return requested
    if first is None or last is None:
        return "day"
    for interval in INTERVALS:
        if bucket_count(first, last, interval) <= MAX_BUCKETS:
            return interval
    return INTERVALS[-1]


def span(since: datetime | None, until: datetime | None,
         days: list[datetime]) -> tuple[datetime | None, datetime | None]:
    """First and last moment an overview covers: the filter's window [since, until), else the data's days."""
    first = since or (min(days) if days else None)
    last = until - timedelta(milliseconds=1) if until else (max(days) if days else None)
    if first is None or last is None:
        first = last = first or last
    return first, last


# Summary -------------------------------------------------------------------------------------


def summary_counts(row: dict) -> dict[str, int]:
    """What one counter (or summary-shaped row) adds to each of the summary's counts."""
    runs = row["runs"]
    status = row.get("job_status")
    return {
        "runs": runs,
        "running": runs if status == "Running" else 0,
        "completed": runs if status == "Completed" else 0,
        "failed": runs if status == "Failed" else 0,
        "drift_detected": runs if row.get("drift_detected") is True else 0,
        "concept_detected": runs if row.get("concept") is True else 0,
        "concept_not_detected": runs if row.get("concept") is False else 0,
        "data_detected": runs if row.get("data") is True else 0,
        "data_not_detected": runs if row.get("data") is False else 0,
    }


def summarise(rows: list[dict], interval: str) -> tuple[dict, list[dict]]:
    """Totals and per (bucket start, model) counts of summary-shaped rows.

    The totals hold every count of COUNTERS, `completed_detected` (for the drift rate) and the first and
    last run times; buckets with no runs are left out, the rest sorted by start, then model.
    """
    totals: dict = dict.fromkeys(COUNTERS, 0)
    completed_detected = 0
    buckets: dict[tuple, dict] = {}
    first_run_at = last_run_at = None
    for row in rows:
        bucket = buckets.setdefault((bucket_start(row["day"], interval), row["model"]), dict.fromkeys(COUNTERS, 0))
        for name, count in summary_counts(row).items():
            bucket[name] += count
            totals[name] += count
        if row["job_status"] == "Completed" and row["drift_detected"] is True:
            completed_detected += row["runs"]
        if row["runs"] > 0:
            first_run_at = _earliest(first_run_at, row.get("first_created_at"))
            last_run_at = _latest(last_run_at, row.get("last_created_at"))
    totals.update(completed_detected=completed_detected, first_run_at=first_run_at, last_run_at=last_run_at)
    return totals, [{"start": start, "model": model, **counts}
                    for (start, model), counts in sorted(buckets.items()) if any(counts.values())]


def _earliest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate < current else current


def _latest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


# Series --------------------------------------------------------------------------------------


def run_bucket_width(first: datetime, last: datetime, points: int) -> tuple[int, int]:
    """How a series of runs in [first, last] is downsampled to `points`: (buckets, bucket width in ms).

    Half of `points` buckets, as each holds up to two points (drifted and not).
    """
    bucket_total = max(1, points // 2)
    width_ms = max(1, math.ceil((last - first) / timedelta(milliseconds=1) / bucket_total) + 1)
    return bucket_total, width_ms


def digest_series_points(entries: list[dict], points: int) -> list[dict]:
    """Points of whole-day buckets, split by drift detected, from daily digests {day, model, drift_detected,
    n, sum, min, max}.

    One day per bucket while the days fit in `points`/2 buckets, else as many consecutive days per bucket
    as it takes. A bucket is dated by its first day (the digests do not keep run times), and after runs
    were changed or deleted its min and max may be wider than the runs' until a rebuild.
    """
    first = min(entry["day"] for entry in entries)
    days = (max(entry["day"] for entry in entries) - first).days + 1
    width = math.ceil(days / max(1, points // 2))
    buckets: dict[tuple[datetime, bool], dict] = {}
    for entry in entries:
        start = first + timedelta(days=(entry["day"] - first).days // width * width)
        bucket = buckets.setdefault((start, entry["drift_detected"]),
                                    {"n": 0, "sum": 0.0, "min": math.inf, "max": -math.inf, "models": set()})
        bucket["n"] += entry["n"]
        bucket["sum"] += entry["sum"]
        bucket["min"] = min(bucket["min"], entry["min"])
        bucket["max"] = max(bucket["max"], entry["max"])
        bucket["models"].add(entry["model"])
    return [
        # The mean is clamped: a sum rebuilt from many additions may stray by a rounding error.
        {"created_at": start, "value": min(max(bucket["sum"] / bucket["n"], bucket["min"]), bucket["max"]),
         "min": bucket["min"], "max": bucket["max"], "count": bucket["n"], "drift_detected": detected,
         "model": next(iter(bucket["models"])) if len(bucket["models"]) == 1 else None, "run_id": None}
        for (start, detected), bucket in sorted(buckets.items())
    ]


# Heatmap -------------------------------------------------------------------------------------


def rank_features(features: dict[str, dict], statistic: str) -> list[str]:
    """Feature names, most often detected first; then by the most extreme mean of `statistic`, then name.

    `features` maps a name to its {runs, sum, detected}. A low p-value means drift; for distances and
    test statistics a high value does.
    """
    direction = 1 if statistic == "p_value" else -1
    return sorted(features, key=lambda name: (-features[name]["detected"],
                                              direction * features[name]["sum"] / features[name]["runs"], name))


def heatmap_cells(rows: list[dict], statistic: str, interval: str,
                  max_features: int) -> tuple[list[str], int, list[dict]]:
    """From per (feature, day) rows {feature, day, runs, sum, min, max, detected}: the `max_features`
    features shown (ranked), how many there are, and their cells per bucket of `interval`, in feature
    order then time."""
    cells: dict[tuple[str, datetime], dict] = {}
    features: dict[str, dict] = defaultdict(lambda: {"runs": 0, "sum": 0.0, "detected": 0})
    for row in rows:
        name, start = row["feature"], bucket_start(row["day"], interval)
        cell = cells.setdefault((name, start), {"runs": 0, "sum": 0.0, "min": math.inf, "max": -math.inf,
                                                "detected": 0})
        cell["runs"] += row["runs"]
        cell["sum"] += row["sum"]
        cell["min"] = min(cell["min"], row["min"])
        cell["max"] = max(cell["max"], row["max"])
        cell["detected"] += row["detected"]
        feature = features[name]
        feature["runs"] += row["runs"]
        feature["sum"] += row["sum"]
        feature["detected"] += row["detected"]

    ranked = rank_features(features, statistic)
    shown = ranked[:max_features]
    order = {name: position for position, name in enumerate(shown)}
    return shown, len(ranked), [
        {"feature": name, "start": start, "mean": cell["sum"] / cell["runs"], "min": cell["min"],
         "max": cell["max"], "runs": cell["runs"], "detected": cell["detected"]}
        for (name, start), cell in sorted(cells.items(), key=lambda item: (order.get(item[0][0], -1), item[0][1]))
        if name in order
    ]
