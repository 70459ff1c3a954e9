"""The MongoDB connection: one client per process, created on first use, never at import."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import pymongo
from pymongo.database import Database

from ..settings import Settings

log = logging.getLogger(__name__)


class Mongo:
    """Holds the pymongo client of this process.

    gunicorn forks workers after importing the app; a MongoClient must not cross a fork,
    so the client is keyed by process id and built lazily in the process that uses it.
    """

    def __init__(self, settings: Settings, prepare: Callable[[Database], None],
                 before_close: Callable[[], None] | None = None):
        self._settings = settings
        self._prepare = prepare
        # Writes still waiting in this process (the app's summary writer) go out before the client does.
        self._before_close = before_close
        self._lock = threading.Lock()
        self._client: pymongo.MongoClient | None = None
        self._client_pid: int | None = None
        self._prepared = False

    @property
    def client(self) -> pymongo.MongoClient:
        if self._client is None or self._client_pid != os.getpid():
            with self._lock:
                if self._client is None or self._client_pid != os.getpid():
                    timeout = self._settings.database_timeout_ms
                    self._client = pymongo.MongoClient(
                        self._settings.database_uri,
                        tz_aware=True,
                        serverSelectionTimeoutMS=timeout,
                        connectTimeoutMS=timeout,
                        # A server that accepts but stalls gives 503 too, never a hang.
                        socketTimeoutMS=max(timeout * 5, 10_000),
                        appname="drift-monitor-backend",
                    )
                    self._client_pid = os.getpid()
                    self._prepared = False
        return self._client

    @property
    def db(self) -> Database:
        """The application database, prepared (indexes…) on first use in this process."""
        db = self.client[self._settings.database_name]
        if not self._prepared:
            with self._lock:
                if not self._prepared:
                    # Raises while the database is down; the next use tries again.
                    self._prepare(db)
                    self._prepared = True
                    log.info("database %r prepared", self._settings.database_name)
        return db

    def ping(self) -> None:
        """Raises unless the database answers a read with this service's credentials.

        `ping` alone answers without logging in, so a wrong password would look healthy; the read
        skips the preparation of `db`, which may be busy with a first build of the summaries.
        """
        self.client[self._settings.database_name].experiments.find_one({}, {"_id": 1})

    def close(self) -> None:
        if self._client is not None:
            if self._before_close is not None:
                self._before_close()
            self._client.close()
            self._client = None
