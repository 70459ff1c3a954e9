"""Who is calling, as plain values: the token's identity, the caller and permission levels.

Shared by the auth extension (which builds them), permissions (which decide with them) and the
repositories (which turn them into query conditions); it imports nothing of those three, so none
of them has to import another for these types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Identity:
    """Who a valid token belongs to."""

    issuer: str
    subject: str
    email: str | None
    entitlements: frozenset[str]


class Level(enum.IntEnum):
    """Permission levels on an experiment; each includes the ones below it."""

    READ = 1
    EDIT = 2
    MANAGE = 3

    @property
    def label(self) -> str:
        """The stored and documented spelling: "Read", "Edit", "Manage"."""
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
