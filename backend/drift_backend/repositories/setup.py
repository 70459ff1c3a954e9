"""Prepares a database for the API: indexes, deletions an earlier process left half-done, migrations, drift summaries."""

from pymongo.database import Database

from . import drifts, experiments, quotas, summaries, users


def prepare_database(db: Database) -> None:
    # create_index is idempotent, so every process may run this at start-up.
    users.create_indexes(db)
    experiments.create_indexes(db)
    drifts.create_indexes(db)
    summaries.create_indexes(db)
    quotas.create_indexes(db)
    experiments.Experiments(db).finish_interrupted_deletions()
    # Experiments stored before names were unique per owner; a no-op once each has an owner (or null).
    experiments.backfill_owners(db)
    # Once per database (guarded across processes): counters for runs stored before they existed.
    summaries.ensure_built(db)
