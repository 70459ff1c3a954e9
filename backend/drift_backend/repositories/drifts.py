"""Drift runs of an experiment: job status, model, tags and concept/data drift results."""

from __future__ import annotations

import uuid
from datetime import datetime

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from ..errors import Conflict, NotFound
from . import Page, current_db, find_page, utc_now

# Bumped when the stored shape of a run changes. 2.0: structured concept/data drift results.
SCHEMA_VERSION = "2.0.0"
RESULT_FIELDS = ("concept_drift", "data_drift")
# What a run says, as opposed to bookkeeping (ids, timestamps): compared on idempotent replays.
CONTENT_FIELDS = ("job_status", "model", "tags", "drift_detected", "parameters", *RESULT_FIELDS)
# A finished job stays finished: from each target status, the statuses a run may be in before.
ALLOWED_PREVIOUS_STATUS = {
    "Running": ["Running"],
    "Completed": ["Running", "Completed"],
    "Failed": ["Running", "Failed"],
}
# A PATCH re-reads the run when another writer changed it in between; this bounds the retries.
PATCH_ATTEMPTS = 5


def create_indexes(db: Database) -> None:
    db.drifts.create_index([("experiment_id", ASCENDING), ("created_at", DESCENDING)], name="experiment_time")
    db.drifts.create_index(
        [("experiment_id", ASCENDING), ("model", ASCENDING), ("created_at", DESCENDING)], name="experiment_model_time"
    )
    db.drifts.create_index([("experiment_id", ASCENDING), ("job_status", ASCENDING)], name="experiment_status")
    db.drifts.create_index([("tags", ASCENDING)], name="tags")


def with_derived_fields(run: dict) -> dict:
    """A run that carries structured results has drift detected exactly when one of them does."""
    results = [run[field] for field in RESULT_FIELDS if run.get(field) is not None]
    if results:
        run["drift_detected"] = any(result["drift"] for result in results)
    return run


class DriftRuns:
    def __init__(self, db: Database):
        self._drifts = db.drifts

    @classmethod
    def from_app(cls) -> DriftRuns:
        return cls(current_db())

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
                return existing, False
            raise Conflict(f"a drift run with id {run['_id']!r} already exists with other content") from None
        return run, True

    def get(self, experiment_id: str, run_id: str) -> dict:
        run = self._drifts.find_one({"_id": run_id, "experiment_id": experiment_id})
        if run is None:
            raise NotFound("drift run", run_id)
        return run

    def search(self, experiment_id: str, page: Page) -> tuple[list[dict], int]:
        # The experiment condition sits at the top level so the (experiment_id, …) indexes apply.
        scoped = Page({**page.filter, "experiment_id": experiment_id}, page.sort, page.page, page.page_size)
        return find_page(self._drifts, scoped)

    def replace(self, experiment_id: str, run_id: str, fields: dict) -> dict:
        """Replace what the run says (PUT): results not sent are removed."""
        content = with_derived_fields(dict(fields))
        absent = {field: "" for field in RESULT_FIELDS if content.get(field) is None}
        for field in absent:
            content.pop(field, None)
        update = {"$set": {**content, "updated_at": utc_now()}}
        if absent:
            update["$unset"] = absent
        return self._guarded_update(experiment_id, run_id, content["job_status"], update, {})

    def update(self, experiment_id: str, run_id: str, fields: dict) -> dict:
        """Change some of what the run says (PATCH)."""
        for _ in range(PATCH_ATTEMPTS):
            current = self.get(experiment_id, run_id)
            merged = with_derived_fields({**_content(current), **fields})
            changes = {key: value for key, value in merged.items() if key in fields or key == "drift_detected"}
            # Matching the read `updated_at` makes a concurrent change send us round again.
            run = self._guarded_update(
                experiment_id, run_id, merged["job_status"],
                {"$set": {**changes, "updated_at": utc_now()}},
                {"updated_at": current["updated_at"]},
                missing_is_race=True,
            )
            if run is not None:
                return run
        raise Conflict(f"drift run {run_id!r} kept changing; try again")

    def delete(self, experiment_id: str, run_id: str) -> None:
        if self._drifts.delete_one({"_id": run_id, "experiment_id": experiment_id}).deleted_count == 0:
            raise NotFound("drift run", run_id)

    def _guarded_update(self, experiment_id, run_id, new_status, update, extra_filter, missing_is_race=False):
        query = {
            "_id": run_id,
            "experiment_id": experiment_id,
            "job_status": {"$in": ALLOWED_PREVIOUS_STATUS[new_status]},
            **extra_filter,
        }
        # update_one then a read by _id, rather than find_one_and_update: the embedded
        # development server scans the whole collection for the latter (1.7 s per call at
        # 100,000 runs, see benchmarks/); on MongoDB both are index lookups.
        if self._drifts.update_one(query, update).matched_count:
            return self.get(experiment_id, run_id)
        # Nothing matched: tell a missing run from a finished one (or, for PATCH, a concurrent change).
        current = self.get(experiment_id, run_id)
        if current["job_status"] not in ALLOWED_PREVIOUS_STATUS[new_status]:
            raise Conflict(
                f"drift run {run_id!r} is already {current['job_status']}; its job status cannot become {new_status}"
            )
        if missing_is_race:
            return None
        raise Conflict(f"drift run {run_id!r} changed while it was being updated; try again")


def _content(run: dict) -> dict:
    return {field: run[field] for field in CONTENT_FIELDS if field in run}
