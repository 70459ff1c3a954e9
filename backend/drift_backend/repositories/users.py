"""Registered users, keyed by (issuer, subject) of their tokens."""

from __future__ import annotations

import threading
import uuid

import cachetools
import flask
from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from ..errors import Conflict, NotFound
from ..identity import Identity
from . import Page, current_db, find_page, utc_now


class UserIdCache:
    """Remembers (issuer, subject) → user id for the lookup every authenticated request needs.

    User ids never change once registered, and only hits are cached, so a fresh
    registration is seen at once. One cache per app, as each app has its own database.
    """

    def __init__(self):
        self._ids: cachetools.TTLCache = cachetools.TTLCache(maxsize=10_000, ttl=600)
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> str | None:
        with self._lock:
            return self._ids.get(key)

    def put(self, key: tuple[str, str], user_id: str) -> None:
        with self._lock:
            self._ids[key] = user_id


def create_indexes(db: Database) -> None:
    db.users.create_index([("issuer", ASCENDING), ("subject", ASCENDING)], unique=True, name="identity")


class Users:
    def __init__(self, db: Database, id_cache: UserIdCache | None = None):
        self._users = db.users
        self._id_cache = id_cache or UserIdCache()

    @classmethod
    def from_app(cls) -> Users:
        return cls(current_db(), flask.current_app.extensions["user_id_cache"])

    def register(self, identity: Identity) -> dict:
        now = utc_now()
        user = {
            "_id": str(uuid.uuid4()),
            "issuer": identity.issuer,
            "subject": identity.subject,
            "email": identity.email or "",
            "created_at": now,
            "updated_at": now,
        }
        try:
            self._users.insert_one(user)
        except DuplicateKeyError:
            raise Conflict("this user is already registered; use PUT /api/v1/user/self to refresh it") from None
        return user

    def find_id(self, identity: Identity) -> str | None:
        key = (identity.issuer, identity.subject)
        cached = self._id_cache.get(key)
        if cached is not None:
            return cached
        user = self._users.find_one({"issuer": identity.issuer, "subject": identity.subject}, {"_id": 1})
        if user is None:
            return None
        self._id_cache.put(key, user["_id"])
        return user["_id"]

    def get(self, user_id: str) -> dict:
        user = self._users.find_one({"_id": user_id})
        if user is None:
            raise NotFound("user", user_id)
        return user

    def registered_ids(self, candidates: list[str]) -> set[str]:
        """Which of the candidate entities are user ids of registered users (the others are groups)."""
        return {user["_id"] for user in self._users.find({"_id": {"$in": list(candidates)}}, {"_id": 1})}

    def refresh(self, user_id: str, identity: Identity) -> dict:
        user = self._users.find_one_and_update(
            {"_id": user_id},
            {"$set": {"email": identity.email or "", "updated_at": utc_now()}},
            return_document=ReturnDocument.AFTER,
        )
        if user is None:
            raise NotFound("user", user_id)
        return user

    def search(self, page: Page) -> tuple[list[dict], int]:
        return find_page(self._users, page)
