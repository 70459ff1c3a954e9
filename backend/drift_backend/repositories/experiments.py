"""Experiments: named groups of drift runs with an owner, a public flag and a permission list, and who sees them."""

from __future__ import annotations

import logging
import uuid

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure

from ..errors import Conflict, NotFound
from ..identity import Caller, Level
from ..query_language import referenced_fields
from . import Page, current_db, find_page, max_time_option, utc_now
from .drifts import DriftRuns
from .summaries import DriftSummaries
from .users import Users

log = logging.getLogger(__name__)

# An experiment being deleted is hidden at once and removed after its runs, so an error
# half-way never leaves a visible experiment with part of its runs gone.
VISIBLE = {"deleting": {"$exists": False}}
_PUBLIC_FIELDS = {"deleting": 0}  # for lists and updates; `get` checks the flag itself


# Names are unique per owner, not globally: a global index answered 409 for names the caller
# cannot see (an existence oracle) and let anyone pre-create someone else's name. Experiments
# with a null owner (older ones no user manages) stay outside the index, so their names bind nobody.
OWNER_NAME_INDEX = "unique_owner_name"
LEGACY_NAME_INDEX = "unique_name"


def create_indexes(db: Database) -> None:
    db.experiments.create_index([("owner", ASCENDING), ("name", ASCENDING)], unique=True, name=OWNER_NAME_INDEX,
                                partialFilterExpression={"owner": {"$type": "string"}})
    # After the new index exists, so that no moment goes without a unique name per owner.
    if LEGACY_NAME_INDEX in db.experiments.index_information():
        log.info("dropping the index %s: experiment names are now unique per owner", LEGACY_NAME_INDEX)
        try:
            db.experiments.drop_index(LEGACY_NAME_INDEX)
        except OperationFailure:  # another process starting at the same time dropped it first
            pass
    db.experiments.create_index([("permissions.entity", ASCENDING)], name="permission_entities")
    db.experiments.create_index([("public", ASCENDING)], name="public")


def backfill_owners(db: Database) -> int:
    """Give experiments stored before `owner` existed an owner; returns how many were looked at.

    The owner is the first user id holding Manage; an experiment only groups manage gets null.
    Null is stored (not left missing), so each experiment is looked at once across restarts.
    """
    done = 0
    for experiment in db.experiments.find({"owner": {"$exists": False}}, {"name": 1, "permissions": 1}):
        managers = [permission["entity"] for permission in experiment.get("permissions", [])
                    if permission.get("level") == Level.MANAGE.label]
        users = Users(db).registered_ids(managers)
        owner = next((entity for entity in managers if entity in users), None)
        unclaimed = {"_id": experiment["_id"], "owner": {"$exists": False}}
        try:
            db.experiments.update_one(unclaimed, {"$set": {"owner": owner}})
        except DuplicateKeyError:
            # The owner created another experiment of this name while this process was starting.
            log.warning("experiment %s: its owner %s already has an experiment named %r; owner left null",
                        experiment["_id"], owner, experiment.get("name"))
            db.experiments.update_one(unclaimed, {"$set": {"owner": None}})
        done += 1
    return done


class Experiments:
    def __init__(self, db: Database):
        self._db = db
        self._experiments = db.experiments

    @classmethod
    def from_app(cls) -> Experiments:
        return cls(current_db())

    def create(self, fields: dict, owner: str) -> dict:
        """Store a new experiment owned by the user id `owner`; 409 if that user has one of this name."""
        now = utc_now()
        experiment = {"_id": str(uuid.uuid4()), **fields, "owner": owner, "created_at": now, "updated_at": now}
        try:
            self._experiments.insert_one(experiment)
        except DuplicateKeyError:
            raise Conflict(f"you already own an experiment named {fields['name']!r}") from None
        return experiment

    def get(self, experiment_id: str) -> dict:
        # Looked up by _id alone (and checked here) so any server answers from the _id index;
        # this runs on every drift write.
        experiment = self._experiments.find_one({"_id": experiment_id})
        if experiment is None or "deleting" in experiment:
            raise NotFound("experiment", experiment_id)
        return experiment

    @staticmethod
    def owned_by(user_id: str | None) -> dict:
        """A filter selecting the experiments the user id owns; none for a caller without one."""
        # Never {"owner": None}: that would select every experiment whose owner is unknown.
        return {"owner": user_id} if user_id is not None else {"_id": {"$in": []}}

    @staticmethod
    def readable_by(caller: Caller) -> dict:
        """A filter selecting the experiments the caller may read (the rule of permissions.level_on)."""
        if caller.is_admin:
            return {}
        if not caller.entities:
            return {"public": True}
        return {"$or": [{"public": True}, {"permissions.entity": {"$in": sorted(caller.entities)}}]}

    @staticmethod
    def managed_by(caller: Caller) -> dict:
        """A filter selecting the experiments the caller manages."""
        if caller.is_admin:
            return {}
        return {"permissions": {"$elemMatch": {"entity": {"$in": sorted(caller.entities)},
                                               "level": Level.MANAGE.label}}}

    @classmethod
    def visible_to(cls, caller: Caller, search_filter: dict | None = None) -> dict:
        """A filter selecting the experiments matching `search_filter` (compiled) that the caller may see.

        Those the caller may read and that are not being deleted. Permission lists and owners are for
        managers only, so a condition on `permissions.*` matches only among experiments the caller
        manages, one on `owner` only among those the caller manages or owns: a filter cannot reveal
        either to anyone else.
        """
        search_filter = search_filter or {}
        conditions = [search_filter, cls.readable_by(caller)]
        fields = referenced_fields(search_filter)
        if any(field.startswith("permissions") for field in fields):
            conditions.append(cls.managed_by(caller))
        if "owner" in fields:
            conditions.append({"$or": [cls.managed_by(caller), cls.owned_by(caller.user_id)]})
        return {"$and": [*conditions, VISIBLE]}

    def search_visible(self, caller: Caller, page: Page) -> tuple[list[dict], int]:
        """One page of the experiments matching `page.filter` that the caller may see, and their total."""
        return find_page(self._experiments, Page(self.visible_to(caller, page.filter), page.sort, page.page,
                                                 page.page_size))

    def count_owned(self, user_id: str) -> int:
        """Experiments the user owns, for the per-user quota (served by the (owner, name) index)."""
        return self._experiments.count_documents({**self.owned_by(user_id), **VISIBLE}, **max_time_option())

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
            # Names are unique per owner, so this names the experiment's owner, not the caller.
            raise Conflict(f"the owner of this experiment already owns an experiment named "
                           f"{fields.get('name', '')!r}") from None
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
        summaries = DriftSummaries(self._db)
        DriftRuns(self._db, summaries).delete_experiment_runs(experiment_id)
        # After the runs, so that the counters of runs written while they were being deleted go too
        # (a write later still leaves a stray counter, which `rebuild-summaries` removes).
        summaries.remove_experiment(experiment_id)
        self._experiments.delete_one({"_id": experiment_id})
