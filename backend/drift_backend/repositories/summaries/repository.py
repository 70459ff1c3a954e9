"""The drift summaries repository: counter changes through the app's writer, reads, rebuilds and run grouping."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import flask
import pymongo
from pymongo import ASCENDING
from pymongo.database import Database

from .. import current_db, max_time_ms, max_time_option
from .counters import TOTALS, drift_rate, empty_stats
from .keys import summary_rows
from .rebuild import REBUILD_TIMEOUT_SECONDS, rebuild_experiment
from .writer import SummaryWriter

COLLECTION = "drift_summaries"
# Where create_app keeps the app's writer.
WRITER_EXTENSION = "summary_writer"

# What `rows` reads of a summary document.
_ROWS_PROJECTION = {"_id": 0, "day": 1, "model": 1, "counts": 1}

# The same key as `keys.summary_key`, computed by the server; `$ifNull` makes a missing field null
# (as the Python side reads it) instead of leaving it out of the group key.
_GROUP_KEY = {
    "day": {"$dateTrunc": {"date": "$created_at", "unit": "day", "timezone": "UTC"}},
    "model": {"$ifNull": ["$model", None]},
    "job_status": {"$ifNull": ["$job_status", None]},
    "concept": {"$ifNull": ["$concept_drift.drift", None]},
    "data": {"$ifNull": ["$data_drift.drift", None]},
    "drift_detected": {"$ifNull": ["$drift_detected", None]},
}


def create_indexes(db: Database) -> None:
    db[COLLECTION].create_index([("experiment_id", ASCENDING), ("day", ASCENDING)], name="experiment_day")


def group_runs(db: Database, match_stages: list[dict]) -> list[dict]:
    """Rows like `summary_rows` gives, computed from the runs that `match_stages` select."""
    pipeline = [
        *match_stages,
        {"$group": {
            "_id": _GROUP_KEY,
            "runs": {"$sum": 1},
            "first_created_at": {"$min": "$created_at"},
            "last_created_at": {"$max": "$created_at"},
        }},
    ]
    return [{**row["_id"], "runs": row["runs"], "first_created_at": row["first_created_at"],
             "last_created_at": row["last_created_at"]}
            for row in db.drifts.aggregate(pipeline, **max_time_option())]


def _default_writer() -> SummaryWriter:
    # The app's writer where there is an app, so that a repository built from a bare database inside a
    # request still reads (and deletes after) the app's pending changes; outside one (start-up tools,
    # scripts) nothing else is pending, and changes are written at once.
    if flask.has_app_context():
        writer = flask.current_app.extensions.get(WRITER_EXTENSION)
        if writer is not None:
            return writer
    return SummaryWriter()


class DriftSummaries:
    def __init__(self, db: Database, writer: SummaryWriter | None = None):
        self._db = db
        self._summaries = db[COLLECTION]
        self._writer = writer if writer is not None else _default_writer()

    @classmethod
    def from_app(cls) -> DriftSummaries:
        return cls(current_db(), flask.current_app.extensions[WRITER_EXTENSION])

    # Maintenance ------------------------------------------------------------------------

    def added(self, run: dict) -> None:
        self.apply([(run, 1)])

    def removed(self, run: dict) -> None:
        self.apply([(run, -1)])

    def changed(self, before: dict, after: dict) -> None:
        """Move a run from the counter of its old state to that of its new one."""
        self.apply([(before, -1), (after, 1)])

    def apply(self, changes: Iterable[tuple[dict, int]]) -> None:
        """Apply (run, +1 | −1) changes; returns once they are written (or deferred, see SummaryWriter)."""
        self._writer.submit(self._summaries, list(changes))

    def remove_experiment(self, experiment_id: str) -> None:
        self._flush()  # not to recreate the counters just deleted
        self._summaries.delete_many({"experiment_id": experiment_id})

    # Reads ------------------------------------------------------------------------------

    def _flush(self) -> None:
        """This process reads its own writes: changes still waiting to be merged are written first."""
        self._writer.flush()

    def rows(self, experiment_id: str) -> list[dict]:
        """Every non-empty counter of an experiment, as rows (see `summary_rows`)."""
        self._flush()
        # The other key fields are filtered by the caller, in Python: this stays one index-range read of
        # the few hundred documents of an experiment, and the caller needs the unfiltered models too.
        # The digests are left on the server: they are most of a document's size. An inclusion projection:
        # the embedded development server answers it in half the time of excluding `stats`.
        documents = self._summaries.find({"experiment_id": experiment_id}, _ROWS_PROJECTION, max_time_ms=max_time_ms())
        return [row for document in documents
                for row in summary_rows(document) if row["runs"]]

    def digests(self, experiment_id: str, since: datetime | None, until: datetime | None,
                fields: Iterable[str]) -> list[dict]:
        """The documents of an experiment's days in [since, until) with only `fields` of their digests
        (dotted paths below `stats`), their day, model and `incomplete` count."""
        self._flush()
        query: dict = {"experiment_id": experiment_id}
        window = {**({"$gte": since} if since else {}), **({"$lt": until} if until else {})}
        if window:
            query["day"] = window
        projection = {"_id": 0, "day": 1, "model": 1, "runs": 1, "incomplete": 1,
                      **{f"stats.{field}": 1 for field in fields}}
        return list(self._summaries.find(query, projection, max_time_ms=max_time_ms()))

    def experiment_stats(self, experiment_ids: Iterable[str]) -> dict[str, dict]:
        """Run counts, drift rate and last run time of each experiment, from one aggregation."""
        ids = list(experiment_ids)
        stats = {experiment_id: empty_stats() for experiment_id in ids}
        if not ids:
            return stats
        self._flush()
        pipeline = [
            {"$match": {"experiment_id": {"$in": ids}}},
            {"$group": {
                "_id": "$experiment_id",
                **{total: {"$sum": f"${total}"} for total in TOTALS},
                "last_run_at": {"$max": {"$cond": [{"$gt": ["$runs", 0]}, "$last_created_at", None]}},
            }},
        ]
        for row in self._summaries.aggregate(pipeline, **max_time_option()):
            completed_detected = row.pop("completed_detected")
            experiment_id = row.pop("_id")
            stats[experiment_id] = {**row, "drift_rate": drift_rate(completed_detected, row["completed"])}
        return stats

    # Rebuild ----------------------------------------------------------------------------

    def rebuild(self, experiment_id: str | None = None, on_progress=None) -> int:
        """Recompute the counters of one experiment (or of all) from the runs; returns the documents written."""
        self._flush()  # a change written after the rebuild would count its run twice
        with pymongo.timeout(REBUILD_TIMEOUT_SECONDS):
            if experiment_id is not None:
                return rebuild_experiment(self._db.drifts, self._summaries, experiment_id)
            experiment_ids = [experiment["_id"] for experiment in self._db.experiments.find({}, {"_id": 1})]
            written = 0
            for experiment_id in experiment_ids:
                written += rebuild_experiment(self._db.drifts, self._summaries, experiment_id)
                if on_progress is not None:
                    on_progress(experiment_id)
            # Counters left by a run write that raced its experiment's deletion.
            for orphan in set(self._summaries.distinct("experiment_id")) - set(experiment_ids):
                if self._db.experiments.find_one({"_id": orphan}, {"_id": 1}) is None:
                    self.remove_experiment(orphan)
            return written
