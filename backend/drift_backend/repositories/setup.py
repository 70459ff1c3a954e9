"""Prepares a database for the API: indexes, and deletions an earlier process left half-done."""

from pymongo.database import Database

from . import drifts, experiments, users


def prepare_database(db: Database) -> None:
    # create_index is idempotent, so every process may run this at start-up.
    users.create_indexes(db)
    experiments.create_indexes(db)
    drifts.create_indexes(db)
    experiments.Experiments(db).finish_interrupted_deletions()
