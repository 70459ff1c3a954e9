"""Overviews of an experiment's drift runs: counts over time, a parameter's series, a feature heatmap, facets.

The summary reads the per-day counters (`summaries/`), never the runs, except for a tag filter (tags
are not part of a counter's key) and the indexed stuck-runs query. The heatmap and downsampled series
read the per-day digests of the same documents when the filter is one they are kept by (time in whole
days, model, drift_detected); otherwise, and for exact points, they aggregate the runs on the server.
Either way they return a bounded number of points or cells. This module reads; the arithmetic on what
it read (buckets, intervals, ranking) is `overview_math.py`, the run's layout `run_document.py`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

from bson.decimal128 import Decimal128
from pymongo.database import Database

from ..overview_math import (
    INTERVALS,
    choose_interval,
    digest_series_points,
    heatmap_cells,
    run_bucket_width,
    span,
    summarise,
)
from ..run_document import COUNTERS, FEATURE_FLAGS, FEATURES_KEY, feature_objects, is_feature_statistic
from . import current_db, max_time_ms, max_time_option, utc_now
from .run_filter import RunFilter
from .summaries import (
    DriftSummaries,
    decode_path,
    digest_location,
    drift_rate,
    group_runs,
)

# COUNTERS and INTERVALS are imported from here by the overview schemas.
__all__ = ["COUNTERS", "INTERVALS", "DriftAnalytics"]
STUCK_RUNS_SHOWN = 20
# Stuck runs are counted up to this many; a healthy experiment has a handful.
STUCK_RUNS_COUNTED = 10_000
# Facet discovery stops descending into parameters below this depth, and after this many paths.
FACET_MAX_DEPTH = 8
FACET_MAX_PATHS = 1_000
# Facets read at most this many bytes of runs (of the fields they look into), however large the runs:
# `sample` runs of up to 1 MiB each would otherwise be a gigabyte through the server and this process.
FACET_MAX_BYTES = 4 * 1024 * 1024
_FACET_PROJECTION = {"tags": 1, "parameters": 1, "concept_drift.parameters": 1, "data_drift.parameters": 1}


def _number(value) -> float:
    return float(value.to_decimal()) if isinstance(value, Decimal128) else float(value)


class DriftAnalytics:
    def __init__(self, db: Database, summaries: DriftSummaries | None = None):
        self._db = db
        self._drifts = db.drifts
        self._summaries = summaries if summaries is not None else DriftSummaries(db)

    @classmethod
    def from_app(cls) -> DriftAnalytics:
        return cls(current_db(), DriftSummaries.from_app())

    # Summary ------------------------------------------------------------------------------

    def summary(self, experiment_id: str, run_filter: RunFilter, interval: str = "auto",
                stuck_after: timedelta = timedelta(hours=6)) -> dict:
        days = run_filter.whole_days()
        counters = self._summaries.rows(experiment_id)
        models = sorted({row["model"] for row in counters if row.get("model") is not None})
        if days.tags:
            rows, source = group_runs(self._db, days.match_stages(experiment_id)), "runs"
        else:
            rows, source = [row for row in counters if days.matches_counter(row)], "summaries"

        interval = choose_interval(interval, *span(days.since, days.until, [row["day"] for row in rows]))
        totals, buckets = summarise(rows, interval)
        completed_detected = totals.pop("completed_detected")

        stuck_runs = self._stuck_runs(experiment_id, run_filter.models, stuck_after)
        totals.update(
            drift_rate=drift_rate(completed_detected, totals["completed"]),
            first_run_at=totals.pop("first_run_at"),
            last_run_at=totals.pop("last_run_at"),
            stuck=len(stuck_runs),
        )
        return {
            "interval": interval,
            "since": days.since,
            "until": days.until,
            "source": source,
            "totals": totals,
            "buckets": buckets,
            "models": models,
            "stuck_runs": [{"_id": run["_id"], "model": run.get("model"), "created_at": run["created_at"]}
                           for run in stuck_runs[:STUCK_RUNS_SHOWN]],
        }

    def _stuck_runs(self, experiment_id: str, models: tuple[str, ...], stuck_after: timedelta) -> list[dict]:
        """Runs still Running that started before `stuck_after` ago, oldest first."""
        # Served by the (experiment_id, job_status, created_at) index. The model condition is applied
        # here rather than in the query: with it, the embedded server plans a scan of every run.
        # Unsorted on the server, which would sort every matching run.
        query = {"experiment_id": experiment_id, "job_status": "Running",
                 "created_at": {"$lt": utc_now() - stuck_after}}
        cursor = self._drifts.find(query, {"model": 1, "created_at": 1}, max_time_ms=max_time_ms()).limit(STUCK_RUNS_COUNTED)
        runs = [run for run in cursor if not models or run.get("model") in models]
        return sorted(runs, key=lambda run: (run["created_at"], run["_id"]))

    # Series -------------------------------------------------------------------------------

    def series(self, experiment_id: str, run_filter: RunFilter, parameter: str, points: int) -> dict:
        """A numeric parameter over time: every run's value, or at most `points` time-bucket aggregates.

        More matching runs than `points` are summarised from the daily digests when the filter allows
        (whole UTC days), else by aggregating the runs.
        """
        keys, location = run_filter.digest_keys(), digest_location(parameter)
        if keys is not None and location is not None:
            days = run_filter.whole_days()
            root, name = location
            entries = self._digest_entries(experiment_id, days, keys, root, name)
            if entries is not None and sum(entry["n"] for entry in entries) > points:
                return {"parameter": parameter, "versus": None, "matched": sum(entry["n"] for entry in entries),
                        "downsampled": True, "source": "summaries", "since": days.since, "until": days.until,
                        "points": digest_series_points(entries, points)}
        return self._series_of_runs(experiment_id, run_filter, parameter, points)

    def _digest_entries(self, experiment_id: str, days: RunFilter, keys: list[str], root: str,
                        name: str | None = None) -> list[dict] | None:
        """The non-empty digests below `root` (only the one at encoded path `name`, if given) under the
        drift_detected `keys` of the days and models `days` selects, as {day, model, drift_detected, path,
        n, sum, min, max, det}; None when one of those days has runs whose numbers are not all digested."""
        fields = [f"{key}.{root}" + (f".{name}" if name else "") for key in keys]
        entries = []
        for document in self._summaries.digests(experiment_id, days.since, days.until, fields):
            # Models are matched here: the (experiment_id, day) index serves the query without them.
            if days.models and document.get("model") not in days.models:
                continue
            if document.get("incomplete", 0) > 0:
                return None
            for key in keys:
                node = (document.get("stats") or {}).get(key)
                for part in root.split("."):
                    node = node.get(part) if isinstance(node, dict) else None
                if not isinstance(node, dict):
                    continue
                for path, digest in ({name: node.get(name)} if name else node).items():
                    if isinstance(digest, dict) and digest.get("n", 0) > 0:
                        entries.append({"day": document["day"], "model": document.get("model"),
                                        "drift_detected": key == "true", "path": path, **digest})
        return entries

    def _series_of_runs(self, experiment_id: str, run_filter: RunFilter, parameter: str, points: int) -> dict:
        value = f"${parameter}"
        result = {"parameter": parameter, "versus": None, "matched": 0, "downsampled": False, "points": [],
                  "source": "runs", "since": run_filter.since, "until": run_filter.until}
        first, last = self._time_range(experiment_id, run_filter)
        if first is None:
            return result
        bucket_total, width_ms = run_bucket_width(first, last, points)
        # The range comes from the counters, which may be wider than the matching runs; clamping keeps
        # a run outside it (written after the range was read) in the first or last bucket.
        offset = {"$floor": {"$divide": [{"$subtract": ["$created_at", first]}, width_ms]}}
        bucket = {"$min": [bucket_total - 1, {"$max": [0, offset]}]}
        detected = {"$eq": ["$drift_detected", True]}
        pipeline = [
            *run_filter.match_stages(experiment_id, {"$expr": {"$isNumber": value}}),
            {"$project": {"created_at": 1, "model": 1, "drift_detected": detected, "value": value}},
            # One pass over the runs serves both answers: the runs themselves when few, else the buckets.
            {"$facet": {
                "runs": [{"$limit": points + 1}],
                "buckets": [{"$group": {
                    "_id": {"bucket": bucket, "drift_detected": "$drift_detected"},
                    "count": {"$sum": 1},
                    "mean": {"$avg": "$value"},
                    "min": {"$min": "$value"},
                    "max": {"$max": "$value"},
                    "created_at": {"$min": "$created_at"},
                    "models": {"$addToSet": "$model"},
                    "run_id": {"$max": "$_id"},
                }}],
            }},
        ]
        facets = next(self._drifts.aggregate(pipeline, **max_time_option()))
        if len(facets["runs"]) <= points:
            result["points"] = sorted(
                ({"created_at": run["created_at"], "value": _number(run["value"]), "min": _number(run["value"]),
                  "max": _number(run["value"]), "count": 1, "drift_detected": run["drift_detected"],
                  "model": run.get("model"), "run_id": run["_id"]} for run in facets["runs"]),
                key=lambda point: (point["created_at"], point["run_id"]),
            )
            result["matched"] = len(result["points"])
            return result
        result["downsampled"] = True
        result["points"] = sorted(
            ({"created_at": group["created_at"], "value": _number(group["mean"]), "min": _number(group["min"]),
              "max": _number(group["max"]), "count": group["count"], "drift_detected": group["_id"]["drift_detected"],
              "model": group["models"][0] if len(group["models"]) == 1 else None,
              "run_id": group["run_id"] if group["count"] == 1 else None} for group in facets["buckets"]),
            key=lambda point: (point["created_at"], point["drift_detected"]),
        )
        result["matched"] = sum(point["count"] for point in result["points"])
        return result

    def versus(self, experiment_id: str, run_filter: RunFilter, parameter: str, versus: str, points: int) -> dict:
        """Two numeric parameters of the same runs: all pairs, or a uniform random sample of `points`."""
        x, y = f"${parameter}", f"${versus}"
        pipeline = [
            *run_filter.match_stages(experiment_id, {"$expr": {"$and": [{"$isNumber": x}, {"$isNumber": y}]}}),
            {"$project": {"created_at": 1, "model": 1, "drift_detected": {"$eq": ["$drift_detected", True]},
                          "x": x, "y": y}},
            {"$facet": {
                "runs": [{"$limit": points + 1}],
                "sample": [{"$sample": {"size": points}}],
                "matched": [{"$count": "runs"}],
            }},
        ]
        facets = next(self._drifts.aggregate(pipeline, **max_time_option()))
        matched = facets["matched"][0]["runs"] if facets["matched"] else 0
        downsampled = len(facets["runs"]) > points
        runs = facets["sample"] if downsampled else facets["runs"]
        return {
            "parameter": parameter,
            "versus": versus,
            "matched": matched,
            "downsampled": downsampled,
            "points": sorted(
                ({"x": _number(run["x"]), "y": _number(run["y"]), "created_at": run["created_at"],
                  "drift_detected": run["drift_detected"], "model": run.get("model"), "run_id": run["_id"]}
                 for run in runs),
                key=lambda point: (point["created_at"], point["run_id"]),
            ),
        }

    def _time_range(self, experiment_id: str, run_filter: RunFilter) -> tuple[datetime | None, datetime | None]:
        """When the filtered runs happened: the filter's window, narrowed by the counters' first and last runs."""
        rows = [row for row in self._summaries.rows(experiment_id) if replace(run_filter, since=None, until=None)
                .matches_counter(row)]
        firsts = [row["first_created_at"] for row in rows if row.get("first_created_at")]
        lasts = [row["last_created_at"] for row in rows if row.get("last_created_at")]
        if not firsts:
            # No counters (e.g. a run written just before a crash): ask the runs themselves.
            bounds = list(self._drifts.aggregate([
                *run_filter.match_stages(experiment_id),
                {"$group": {"_id": None, "first": {"$min": "$created_at"}, "last": {"$max": "$created_at"}}},
            ], **max_time_option()))
            if not bounds:
                return None, None
            firsts, lasts = [bounds[0]["first"]], [bounds[0]["last"]]
        first = max(min(firsts), run_filter.since) if run_filter.since else min(firsts)
        last = max(lasts)
        if run_filter.until is not None:
            last = min(last, run_filter.until)
        return first, max(first, last)

    # Heatmap ------------------------------------------------------------------------------

    def heatmap(self, experiment_id: str, run_filter: RunFilter, result: str, statistic: str,
                interval: str = "auto", max_features: int = 40) -> dict:
        """One cell per (feature, time bucket) of a per-feature statistic in `result`.parameters.

        From the daily digests when the filter allows (whole UTC days), else from the runs.
        """
        keys = run_filter.digest_keys()
        if keys is not None:
            days = run_filter.whole_days()
            entries = self._digest_entries(experiment_id, days, keys, f"{result}.parameters")
            if entries is not None:
                rows = []
                for entry in entries:
                    segments = decode_path(entry["path"])
                    if is_feature_statistic(segments) and segments[-1] == statistic:
                        rows.append({"feature": segments[-2], "day": entry["day"], "runs": entry["n"],
                                     "sum": entry["sum"], "min": entry["min"], "max": entry["max"],
                                     "detected": entry.get("det", 0)})
                return _heatmap(rows, days, result, statistic, interval, max_features, "summaries")
        return _heatmap(self.heatmap_rows_of_runs(experiment_id, run_filter, result, statistic), run_filter,
                        result, statistic, interval, max_features, "runs")

    def heatmap_rows_of_runs(self, experiment_id: str, run_filter: RunFilter, result: str,
                             statistic: str) -> list[dict]:
        """Per (feature, day): runs with a numeric statistic, their sum, min, max and detections."""
        parameters = f"${result}.parameters"
        nested = f"{parameters}.{FEATURES_KEY}"
        feature_objects = {"$concatArrays": [
            {"$cond": [{"$eq": [{"$type": nested}, "object"]}, {"$objectToArray": nested}, []]},
            # The older layout: feature objects directly under the result's parameters.
            {"$filter": {"input": {"$objectToArray": parameters}, "as": "entry",
                         "cond": {"$ne": ["$$entry.k", FEATURES_KEY]}}},
        ]}
        pipeline = [
            *run_filter.match_stages(experiment_id, {f"{result}.parameters": {"$type": "object"}}),
            # Narrow each run to (day, [name, statistic, drift]) before unwinding: unwinding whole runs
            # would copy every run once per feature.
            {"$project": {"_id": 0, "day": {"$dateTrunc": {"date": "$created_at", "unit": "day", "timezone": "UTC"}},
                          "features": {"$map": {
                              "input": feature_objects,
                              "as": "feature",
                              "in": {"name": "$$feature.k", "value": f"$$feature.v.{statistic}",
                                     "drift": {"$or": [{"$eq": [f"$$feature.v.{flag}", True]}
                                                       for flag in FEATURE_FLAGS]}},
                          }}}},
            {"$unwind": "$features"},
            {"$match": {"$expr": {"$isNumber": "$features.value"}}},
            {"$group": {
                "_id": {"feature": "$features.name", "day": "$day"},
                "runs": {"$sum": 1},
                "sum": {"$sum": "$features.value"},
                "min": {"$min": "$features.value"},
                "max": {"$max": "$features.value"},
                "detected": {"$sum": {"$cond": ["$features.drift", 1, 0]}},
            }},
        ]
        return [{"feature": row["_id"]["feature"], "day": row["_id"]["day"], "runs": row["runs"],
                 "sum": _number(row["sum"]), "min": _number(row["min"]), "max": _number(row["max"]),
                 "detected": row["detected"]} for row in self._drifts.aggregate(pipeline, **max_time_option())]

    # Facets -------------------------------------------------------------------------------

    def facets(self, experiment_id: str, sample: int = 200) -> dict:
        """Models, tags, numeric parameter paths, features and statistics seen in recent runs."""
        counters = self._summaries.rows(experiment_id)
        runs_per_day = Counter()
        for row in counters:
            runs_per_day[row["day"]] += row["runs"]
        # The most recent days that hold `sample` runs: a time range the (experiment_id, created_at)
        # index narrows, instead of sorting every run by time.
        query: dict = {"experiment_id": experiment_id}
        total = 0
        for day in sorted(runs_per_day, reverse=True):
            total += runs_per_day[day]
            query["created_at"] = {"$gte": day}
            if total >= sample:
                break
        runs = self._facet_sample(query, sample)

        tags: set[str] = set()
        paths: set[str] = set()
        features = {"data_drift": set(), "concept_drift": set()}
        statistics: set[str] = set()
        for run in runs:
            tags.update(tag for tag in run.get("tags") or () if isinstance(tag, str))
            _numeric_paths(run.get("parameters"), "parameters", paths)
            for result, names in features.items():
                parameters = (run.get(result) or {}).get("parameters")
                if not isinstance(parameters, dict):
                    continue
                _numeric_paths(parameters, f"{result}.parameters", paths)
                for name, value in feature_objects(parameters):
                    numeric = [key for key, item in value.items() if _is_number(item)]
                    if numeric:
                        names.add(name)
                        statistics.update(numeric)
        return {
            "models": sorted({row["model"] for row in counters if row.get("model") is not None}),
            "tags": sorted(tags),
            "parameters": sorted(paths),
            "features": {result: sorted(names) for result, names in features.items()},
            "statistics": sorted(statistics),
            "sampled_runs": len(runs),
        }


    def _facet_sample(self, query: dict, sample: int) -> list[dict]:
        """Up to `sample` runs matching `query`, projected to the facet fields, in at most FACET_MAX_BYTES.

        The server first tells each candidate's projected size ($bsonSize), which is all that crosses
        the wire for them; only the runs that fit in the budget are then read.
        """
        sizes = self._drifts.aggregate([
            {"$match": query},
            {"$limit": sample},
            {"$project": _FACET_PROJECTION},
            {"$project": {"size": {"$bsonSize": "$$ROOT"}}},
        ], **max_time_option())
        chosen, used = [], 0
        for candidate in sizes:
            if used + candidate["size"] > FACET_MAX_BYTES:
                continue  # a smaller run may still fit
            chosen.append(candidate["_id"])
            used += candidate["size"]
        if not chosen:
            return []
        return list(self._drifts.find({"_id": {"$in": chosen}}, _FACET_PROJECTION, max_time_ms=max_time_ms()))


def _heatmap(rows: list[dict], run_filter: RunFilter, result: str, statistic: str, interval: str,
             max_features: int, source: str) -> dict:
    """The heatmap answer from per (feature, day) rows (see `heatmap_rows_of_runs`)."""
    interval = choose_interval(interval, *span(run_filter.since, run_filter.until, [row["day"] for row in rows]))
    shown, total, cells = heatmap_cells(rows, statistic, interval, max_features)
    return {
        "result": result,
        "statistic": statistic,
        "interval": interval,
        "since": run_filter.since,
        "until": run_filter.until,
        "source": source,
        "features": shown,
        "features_total": total,
        "cells": cells,
    }


def _is_number(value) -> bool:
    return isinstance(value, (int, float, Decimal128)) and not isinstance(value, bool)


def _numeric_paths(node, path: str, found: set[str], depth: int = 0) -> None:
    """Add the dotted path of every numeric value below `node` that a series can address."""
    if not isinstance(node, dict) or depth >= FACET_MAX_DEPTH:
        return
    for key, value in node.items():
        if len(found) >= FACET_MAX_PATHS:
            return
        # A key with a dot or a leading $ cannot be written as a dotted path.
        if not key or "." in key or "$" in key:
            continue
        child = f"{path}.{key}"
        if _is_number(value):
            found.add(child)
        else:
            _numeric_paths(value, child, found, depth + 1)
