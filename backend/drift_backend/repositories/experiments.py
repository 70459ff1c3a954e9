"""Experiments: named groups of drift runs, with a public flag and a permission list."""

from __future__ import annotations

import logging
import uuid

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from ..errors import Conflict, NotFound
from . import Page, current_db, find_page, utc_now
from .summaries import DriftSummaries

log = logging.getLogger(__name__)

# An experiment being deleted is hidden at once and removed after its runs, so an error
# half-way never leaves a visible experiment with part of its runs gone.
VISIBLE = {"deleting": {"$exists": False}}
_PUBLIC_FIELDS = {"deleting": 0}  # for lists and updates; `get` checks the flag itself


def create_indexes(db: Database) -> None:
    db.experiments.create_index([("name", ASCENDING)], unique=True, name="unique_name")
    db.experiments.create_index([("permissions.entity", ASCENDING)], name="permission_entities")
    db.experiments.create_index([("public", ASCENDING)], name="public")


def _duplicate_name(name: str) -> Conflict:
    return Conflict(f"an experiment named {name!r} already exists")


class Experiments:
    def __init__(self, db: Database):
        self._db = db
        self._experiments = db.experiments

    @classmethod
    def from_app(cls) -> Experiments:
        return cls(current_db())

    def create(self, fields: dict) -> dict:
        now = utc_now()
        experiment = {"_id": str(uuid.uuid4()), **fields, "created_at": now, "updated_at": now}
        try:
            self._experiments.insert_one(experiment)
        except DuplicateKeyError:
            raise _duplicate_name(fields["name"]) from None
        return experiment

    def get(self, experiment_id: str) -> dict:
        # Looked up by _id alone (and checked here) so any server answers from the _id index;
        # this runs on every drift write.
        experiment = self._experiments.find_one({"_id": experiment_id})
        if experiment is None or "deleting" in experiment:
            raise NotFound("experiment", experiment_id)
        return experiment

    def search(self, page: Page) -> tuple[list[dict], int]:
        visible_page = Page({"$and": [page.filter, VISIBLE]}, page.sort, page.page, page.page_size)
        return find_page(self._experiments, visible_page)

    def update(self, experiment_id: str, fields: dict) -> dict:
        """Set the given fields (a full or partial representation)."""
        try:
            experiment = self._experiments.find_one_and_update(
                {"_id": experiment_id, **VISIBLE},
                {"$set": {**fields, "updated_at": utc_now()}},
                projection=_PUBLIC_FIELDS,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            raise _duplicate_name(fields.get("name", "")) from None
        if experiment is None:
            raise NotFound("experiment", experiment_id)
        return experiment

    def delete(self, experiment_id: str) -> None:
        """Delete the experiment, its drift runs and their summaries; safe to repeat after an error."""
        marked = self._experiments.update_one({"_id": experiment_id}, {"$set": {"deleting": utc_now()}})
        if marked.matched_count == 0:
            raise NotFound("experiment", experiment_id)
        self._finish_deletion(experiment_id)

    def finish_interrupted_deletions(self) -> None:
        for experiment in self._experiments.find({"deleting": {"$exists": True}}, {"_id": 1}):
            log.warning("finishing the interrupted deletion of experiment %s", experiment["_id"])
            self._finish_deletion(experiment["_id"])

    def _finish_deletion(self, experiment_id: str) -> None:
        self._db.drifts.delete_many({"experiment_id": experiment_id})
        # After the runs, so that the counters of runs written while they were being deleted go too
        # (a write later still leaves a stray counter, which `rebuild-summaries` removes).
        DriftSummaries(self._db).remove_experiment(experiment_id)
        self._experiments.delete_one({"_id": experiment_id})
