"""Per-user counters of work done in fixed one-minute windows, shared by every worker and process."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from . import current_db, utc_now

COLLECTION = "quota_windows"
WINDOW = timedelta(minutes=1)


def create_indexes(db: Database) -> None:
    # A window is useless once over: the server deletes it a window later (TTL monitors run about
    # once a minute), so the collection holds about two windows per active user.
    db[COLLECTION].create_index("expires_at", expireAfterSeconds=0, name="expire_windows")


class QuotaWindows:
    def __init__(self, db: Database):
        self._windows = db[COLLECTION]

    @classmethod
    def from_app(cls) -> QuotaWindows:
        return cls(current_db())

    def take(self, counter: str, holder: str, limit: int, now: datetime | None = None) -> timedelta | None:
        """Count one more `counter` for `holder` in the current window, unless `limit` are counted already.

        Returns None when counted, else how long until the window ends. One atomic update, no read:
        the filter matches only a window below the limit; a full window does not match, so the upsert
        tries to insert its `_id` again, which the unique `_id` index refuses. `update_one` rather
        than `find_one_and_update`, whose cost grows with the collection on the embedded server.
        """
        now = now or utc_now()
        epoch = int(now.timestamp()) // int(WINDOW.total_seconds()) * int(WINDOW.total_seconds())
        start = datetime.fromtimestamp(epoch, timezone.utc)
        try:
            self._windows.update_one(
                {"_id": f"{counter}:{holder}:{epoch}", "count": {"$lt": limit}},
                {"$inc": {"count": 1},
                 "$setOnInsert": {"counter": counter, "holder": holder, "start": start,
                                  "expires_at": start + 2 * WINDOW}},
                upsert=True,
            )
        except DuplicateKeyError:
            return start + WINDOW - now
        return None
