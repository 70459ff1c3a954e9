"""Drift runs of an experiment: job status, model, tags and concept/data drift results."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure

from ..errors import Conflict, NotFound
from ..run_document import RESULT_FIELDS, with_derived_fields
from . import Page, current_db, find_page, utc_now
from .run_filter import RunFilter
from .summaries import DriftSummaries

# Bumped when the stored shape of a run changes. 2.0: structured concept/data drift results.
SCHEMA_VERSION = "2.0.0"
# What a run says, as opposed to bookkeeping (ids, timestamps): compared on idempotent replays.
CONTENT_FIELDS = ("job_status", "model", "tags", "drift_detected", "parameters", *RESULT_FIELDS)
# A finished job stays finished: from each target status, the statuses a run may be in before.
ALLOWED_PREVIOUS_STATUS = {
    "Running": ["Running"],
    "Completed": ["Running", "Completed"],
    "Failed": ["Running", "Failed"],
}
# A change (PUT, PATCH, DELETE) re-reads the run when another writer changed it in between;
# this bounds the retries.
WRITE_ATTEMPTS = 5


def create_indexes(db: Database) -> None:
    db.drifts.create_index([("experiment_id", ASCENDING), ("created_at", DESCENDING)], name="experiment_time")
    db.drifts.create_index(
        [("experiment_id", ASCENDING), ("model", ASCENDING), ("created_at", DESCENDING)], name="experiment_model_time"
    )
    # Also serves the stuck-runs query (Running, created before a time) of the drift summary.
    db.drifts.create_index(
        [("experiment_id", ASCENDING), ("job_status", ASCENDING), ("created_at", ASCENDING)],
        name="experiment_status_time",
    )
    # Superseded by experiment_status_time, whose prefix it is.
    if "experiment_status" in db.drifts.index_information():
        try:
            db.drifts.drop_index("experiment_status")
        except OperationFailure:  # another process dropped it first
            pass
    db.drifts.create_index([("tags", ASCENDING)], name="tags")


class DriftRuns:
    def __init__(self, db: Database, summaries: DriftSummaries | None = None):
        self._drifts = db.drifts
        # Every run write changes the counters through the summaries (and so the app's writer).
        self._summaries = summaries if summaries is not None else DriftSummaries(db)

    @classmethod
    def from_app(cls) -> DriftRuns:
        return cls(current_db(), DriftSummaries.from_app())

    def create(self, experiment_id: str, fields: dict, run_id: str | None = None,
               created_at: datetime | None = None) -> tuple[dict, bool]:
        """Store a new run; with a client-chosen id, a replay of the same run returns it unchanged.

        Returns the run and whether it was created by this call.
        """
        now = utc_now()
        run = with_derived_fields({
            "_id": run_id or str(uuid.uuid4()),
            "experiment_id": experiment_id,
            "schema_version": SCHEMA_VERSION,
            **fields,
            "created_at": created_at or now,
            "updated_at": now,
        })
        try:
            self._drifts.insert_one(run)
        except DuplicateKeyError:
            existing = self._drifts.find_one({"_id": run["_id"]})
            if existing is not None and existing["experiment_id"] == experiment_id and _content(existing) == _content(run):
                return existing, False  # a replay: already counted
            raise Conflict(f"a drift run with id {run['_id']!r} already exists with other content") from None
        self._summaries.added(run)
        return run, True

    def get(self, experiment_id: str, run_id: str) -> dict:
        run = self._drifts.find_one({"_id": run_id, "experiment_id": experiment_id})
        if run is None:
            raise NotFound("drift run", run_id)
        return run

    def search(self, experiment_id: str, page: Page, run_filter: RunFilter | None = None) -> tuple[list[dict], int]:
        """One page of the experiment's runs that `run_filter` selects and that match `page.filter`, and the total."""
        # The run filter's conditions (the experiment's first) stay at the top level so the
        # (experiment_id, …) indexes apply; `page.filter` is ANDed to them.
        query = (run_filter or RunFilter()).runs_query(experiment_id, page.filter)
        return find_page(self._drifts, Page(query, page.sort, page.page, page.page_size))

    def replace(self, experiment_id: str, run_id: str, fields: dict) -> dict:
        """Replace what the run says (PUT): results not sent are removed."""
        content = with_derived_fields(dict(fields))
        absent = [field for field in RESULT_FIELDS if content.get(field) is None]
        for field in absent:
            content.pop(field, None)

        def replaced(current: dict) -> tuple[dict, dict]:
            update: dict = {"$set": content}
            if absent:
                update["$unset"] = dict.fromkeys(absent, "")
            return {**_without(current, absent), **content}, update

        return self._change(experiment_id, run_id, replaced)

    def update(self, experiment_id: str, run_id: str, fields: dict) -> dict:
        """Change some of what the run says (PATCH)."""

        def patched(current: dict) -> tuple[dict, dict]:
            merged = with_derived_fields({**_content(current), **fields})
            changes = {key: value for key, value in merged.items() if key in fields or key == "drift_detected"}
            return {**current, **changes}, {"$set": changes}

        return self._change(experiment_id, run_id, patched)

    def delete(self, experiment_id: str, run_id: str) -> None:
        for _ in range(WRITE_ATTEMPTS):
            current = self.get(experiment_id, run_id)
            # Guarded like a change, so the counters lose exactly the state that was deleted.
            guard = {"_id": run_id, "experiment_id": experiment_id, "updated_at": current["updated_at"]}
            if self._drifts.delete_one(guard).deleted_count:
                self._summaries.removed(current)
                return
        raise Conflict(f"drift run {run_id!r} kept changing; try again")

    def delete_experiment_runs(self, experiment_id: str) -> int:
        """Delete every run of an experiment being deleted; returns how many went.

        The counters are not touched run by run: the experiment's deletion removes its summaries after this.
        """
        return self._drifts.delete_many({"experiment_id": experiment_id}).deleted_count

    def _change(self, experiment_id: str, run_id: str, change) -> dict:
        """Read the run, apply `change(current) -> (new run, update)` if no other writer came in between.

        Knowing the replaced state is what lets the counters move the run from its old key to its new one.
        """
        for _ in range(WRITE_ATTEMPTS):
            current = self.get(experiment_id, run_id)
            run, update = change(current)
            new_status = run["job_status"]
            if current["job_status"] not in ALLOWED_PREVIOUS_STATUS[new_status]:
                raise Conflict(
                    f"drift run {run_id!r} is already {current['job_status']}; its job status cannot become {new_status}"
                )
            # Strictly later than the read version, so that two writes in one millisecond still
            # differ and the guard below sees every concurrent change.
            run["updated_at"] = max(utc_now(), current["updated_at"] + timedelta(milliseconds=1))
            update["$set"] = {**update["$set"], "updated_at": run["updated_at"]}
            guard = {"_id": run_id, "experiment_id": experiment_id, "updated_at": current["updated_at"]}
            # update_one rather than find_one_and_update: the embedded development server scans the
            # whole collection for the latter (1.7 s per call at 100,000 runs, see benchmarks/).
            # The guard makes the result exactly `run`, so it is not read back.
            if self._drifts.update_one(guard, update).matched_count:
                self._summaries.changed(current, run)
                return run
        raise Conflict(f"drift run {run_id!r} kept changing; try again")


def _content(run: dict) -> dict:
    return {field: run[field] for field in CONTENT_FIELDS if field in run}


def _without(run: dict, fields: list[str]) -> dict:
    return {key: value for key, value in run.items() if key not in fields}
