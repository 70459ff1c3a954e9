"""The once-per-database build of the summaries at start-up, guarded so that one process of many does it."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from .. import utc_now
from .repository import COLLECTION, DriftSummaries

log = logging.getLogger(__name__)

# The `meta` document that says the counters exist for every run; a bump of the version
# (a changed layout) rebuilds them at the next start.
META_ID = COLLECTION
# 2: digests of numeric parameters (`stats`, `incomplete`).
META_VERSION = 2
# A start-up rebuild that stopped beating for this long died with its process: another may take over.
BUILD_STALE_AFTER = timedelta(minutes=10)


def _builder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def mark_ready(db: Database) -> None:
    db.meta.update_one(
        {"_id": META_ID},
        {"$set": {"version": META_VERSION, "state": "ready", "finished_at": utc_now()}},
        upsert=True,
    )


def claim_build(db: Database) -> bool:
    """Whether this process should build the counters; at most one process at a time does."""
    now = utc_now()
    claim = {"version": META_VERSION, "state": "building", "builder": _builder_name(),
             "started_at": now, "heartbeat_at": now}
    try:
        # The insert is the lock: of several workers starting together exactly one succeeds.
        db.meta.insert_one({"_id": META_ID, **claim})
        return True
    except DuplicateKeyError:
        pass
    # Take over from an older version's counters, or from a builder that died.
    taken = db.meta.update_one(
        {"_id": META_ID, "$or": [
            {"version": {"$ne": META_VERSION}},
            {"state": "building", "heartbeat_at": {"$lt": now - BUILD_STALE_AFTER}},
        ]},
        {"$set": claim},
    )
    return taken.modified_count == 1


def ensure_built(db: Database) -> None:
    """Build the counters once for a database that has runs from before they existed."""
    meta = db.meta.find_one({"_id": META_ID})
    if meta is not None and meta.get("version") == META_VERSION and meta.get("state") == "ready":
        return
    if not claim_build(db):
        log.info("drift summaries are being built by %s", (meta or {}).get("builder", "another process"))
        return
    if db.drifts.find_one({}, {"_id": 1}) is None:  # a new database: nothing to count
        mark_ready(db)
        return
    log.warning("building drift summaries from the stored runs; this happens once")

    def beat(_experiment_id: str) -> None:
        db.meta.update_one({"_id": META_ID}, {"$set": {"heartbeat_at": utc_now()}})

    written = DriftSummaries(db).rebuild(on_progress=beat)
    mark_ready(db)
    log.warning("drift summaries built: %d counters", written)
