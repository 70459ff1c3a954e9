"""Who may do what: the caller of a request, permission levels and experiment visibility."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import flask

from .errors import Forbidden, NotFound, Unauthorized
from .extensions.auth import Identity, bearer_token
from .repositories.users import Users


class Level(enum.IntEnum):
    """Permission levels on an experiment; each includes the ones below it."""

    READ = 1
    EDIT = 2
    MANAGE = 3

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @classmethod
    def from_label(cls, label: str) -> Level:
        return cls[label.upper()]


LEVEL_LABELS = [level.label for level in Level]


@dataclass(frozen=True)
class Caller:
    """The person behind a request: anonymous, a valid token, and maybe a registered user."""

    identity: Identity | None = None
    user_id: str | None = None
    is_admin: bool = False

    @property
    def entities(self) -> frozenset[str]:
        """The names permissions can be granted to: the user id and the caller's entitlements."""
        if self.identity is None:
            return frozenset()
        own = {self.user_id} if self.user_id else set()
        return frozenset(own) | self.identity.entitlements

    def require_token(self) -> Identity:
        if self.identity is None:
            raise Unauthorized("this operation needs a bearer token", error_code=None)
        return self.identity

    def require_registered(self) -> str:
        self.require_token()
        if self.user_id is None:
            raise Forbidden("register first: POST /api/v1/user")
        return self.user_id

    def require_admin(self) -> None:
        self.require_token()
        if not self.is_admin:
            raise Forbidden("this operation is reserved to administrators")


def resolve_caller() -> Caller:
    """Build the caller from the request's token; cached on `flask.g` for the request."""
    if "caller" in flask.g:
        return flask.g.caller
    token = bearer_token()
    caller = Caller()
    if token is not None:
        app = flask.current_app
        identity = app.extensions["token_validator"].identify(token)
        settings = app.extensions["settings"]
        caller = Caller(
            identity=identity,
            user_id=Users.from_app().find_id(identity),
            is_admin=bool(identity.entitlements & settings.admin_entitlements),
        )
    flask.g.caller = caller
    return caller


def level_on(caller: Caller, experiment: dict) -> Level | None:
    """The caller's level on an experiment, None when they may not even see it."""
    if caller.is_admin:
        return Level.MANAGE
    granted = [
        Level.from_label(permission["level"])
        for permission in experiment.get("permissions", [])
        if permission["entity"] in caller.entities
    ]
    if experiment.get("public"):
        granted.append(Level.READ)
    return max(granted, default=None)


def readable_filter(caller: Caller) -> dict:
    """A MongoDB filter selecting the experiments the caller may read."""
    if caller.is_admin:
        return {}
    if not caller.entities:
        return {"public": True}
    return {"$or": [{"public": True}, {"permissions.entity": {"$in": sorted(caller.entities)}}]}


def managed_filter(caller: Caller) -> dict:
    """A MongoDB filter selecting the experiments the caller manages."""
    if caller.is_admin:
        return {}
    return {"permissions": {"$elemMatch": {"entity": {"$in": sorted(caller.entities)}, "level": Level.MANAGE.label}}}


def require_level(caller: Caller, experiment: dict, needed: Level) -> None:
    """404 when the experiment is invisible to the caller (nothing leaks), 401/403 when too low."""
    level = level_on(caller, experiment)
    if level is None:
        raise NotFound("experiment", experiment["_id"])
    if level < needed:
        if caller.identity is None:
            raise Unauthorized(f"this operation needs {needed.label} permission: send a bearer token",
                               error_code=None)
        raise Forbidden(f"this operation needs {needed.label} permission on the experiment")
