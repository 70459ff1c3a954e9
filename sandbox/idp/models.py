"""Domain objects of the sandbox identity provider and the loader for ``sandbox/users.json``.

The classes implement the small model interfaces Authlib's server components
expect (``ClientMixin``, ``AuthorizationCodeMixin``, ``TokenMixin``), so the
protocol logic itself stays in Authlib. Everything is plain in-memory data:
the sandbox has no database.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, list_to_scope, scope_to_list
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo

#: The users and clients shipped with the repository.
DEFAULT_USERS_FILE = Path(__file__).resolve().parent.parent / "users.json"

# Loopback hosts for which RFC 8252 section 7.3 lets a native client pick any port.
_LOOPBACK_HOSTS = {"127.0.0.1", "[::1]", "::1"}


class SandboxUserInfo(UserInfo):
    """OIDC ``UserInfo`` that also knows the ``eduperson_entitlement`` scope.

    Authlib's scope filter only maps the standard scopes; the entitlement claim
    is released by its own scope, as on the research-infrastructure IdPs the
    backend targets.
    """

    SCOPES_CLAIMS_MAPPING = {
        **UserInfo.SCOPES_CLAIMS_MAPPING,
        "eduperson_entitlement": ["eduperson_entitlement"],
    }


@dataclass(frozen=True)
class User:
    """A resource owner: a sandbox user from users.json, or an ad hoc subject
    described by a ``/sandbox/token`` request (then only the given claims are set)."""

    sub: str
    username: str | None = None
    email: str | None = None
    name: str | None = None
    entitlements: tuple[str, ...] = ()
    mytoken: str | None = field(default=None, repr=False)

    def get_user_id(self) -> str:
        return self.sub

    def claims(self) -> dict:
        """All identity claims of the user, as userinfo and ID tokens carry them.

        Claims without a value are left out instead of being sent as null, as
        OIDC Core section 5.3.2 asks.
        """
        claims = {"sub": self.sub, "eduperson_entitlement": list(self.entitlements)}
        if self.email:
            # Sandbox addresses are declared verified: no verification flow exists.
            claims["email"] = self.email
            claims["email_verified"] = True
        if self.name:
            claims["name"] = self.name
        if self.username:
            claims["preferred_username"] = self.username
        return claims

    def user_info(self, scope: str | None) -> SandboxUserInfo:
        """The claims released for ``scope`` (``sub`` always)."""
        released = SandboxUserInfo(self.claims()).filter(scope or "")
        released["sub"] = self.sub
        return SandboxUserInfo(released)


@dataclass(frozen=True)
class Client(ClientMixin):
    """A registered OAuth client (confidential when it has a secret, public otherwise)."""

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]
    scope: str
    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token")
    response_types: tuple[str, ...] = ("code",)
    token_endpoint_auth_methods: tuple[str, ...] = ("client_secret_basic",)
    require_pkce: bool = False
    loopback_any_port: bool = False

    @classmethod
    def unregistered(cls, client_id: str) -> Client:
        """A client that cannot use any grant: the nominal ``client_id`` of tokens
        minted outside the OAuth flows (MyToken exchange, ``/sandbox/token``)."""
        return cls(
            client_id=client_id,
            client_secret=None,
            redirect_uris=(),
            scope="",
            grant_types=(),
            response_types=(),
            token_endpoint_auth_methods=(),
        )

    @property
    def is_public(self) -> bool:
        return self.client_secret is None

    @property
    def client_metadata(self) -> dict:
        # Read by Authlib's UserInfoEndpoint (signed userinfo is not offered).
        return {}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = scope_to_list(self.scope)
        if not scope:
            # RFC 6749 section 3.3: an omitted scope means the client's default scope.
            return self.scope
        return list_to_scope([s for s in scope_to_list(scope) if s in allowed])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if redirect_uri in self.redirect_uris:
            return True
        if not self.loopback_any_port:
            return False
        # Native apps listen on an ephemeral loopback port (RFC 8252 section 7.3):
        # everything but the port must match a registered URI.
        candidate = urlsplit(redirect_uri)
        if candidate.scheme != "http" or candidate.hostname not in _LOOPBACK_HOSTS:
            return False
        for registered in map(urlsplit, self.redirect_uris):
            if (
                registered.hostname == candidate.hostname
                and registered.path == candidate.path
                and registered.query == candidate.query
            ):
                return True
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret is None:
            return False
        return hmac.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method in self.token_endpoint_auth_methods
        return True

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    """A pending authorization code, bound to client, redirect URI, user, nonce and PKCE."""

    code: str
    client_id: str
    redirect_uri: str | None
    scope: str
    user: User
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: int

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class AccessToken(TokenMixin):
    """Server-side record of an issued access token (JWT or opaque), used by /userinfo."""

    value: str
    client: Client
    user: User
    scope: str
    issued_at: int
    not_before: int
    expires_at: int

    def check_client(self, client) -> bool:
        return client.get_client_id() == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_at - self.issued_at

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_not_yet_valid(self) -> bool:
        return time.time() < self.not_before

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> User:
        return self.user

    def get_client(self) -> Client:
        return self.client


@dataclass
class RefreshToken(TokenMixin):
    """Server-side record of a refresh token; revoked once it has been used (rotation)."""

    value: str
    client: Client
    user: User
    scope: str
    revoked: bool = False

    def check_client(self, client) -> bool:
        return client.get_client_id() == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> User:
        return self.user

    def get_client(self) -> Client:
        return self.client


@dataclass(frozen=True)
class Directory:
    """The sandbox users and clients, as loaded from users.json."""

    users: tuple[User, ...]
    clients: tuple[Client, ...]

    @classmethod
    def load(cls, path: str | Path = DEFAULT_USERS_FILE) -> Directory:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        users = tuple(
            User(
                sub=u["sub"],
                username=u["username"],
                email=u.get("email"),
                name=u.get("name"),
                entitlements=tuple(u.get("entitlements", ())),
                mytoken=u.get("mytoken"),
            )
            for u in data["users"]
        )
        clients = tuple(
            Client(
                client_id=c["client_id"],
                client_secret=c.get("client_secret"),
                redirect_uris=tuple(c["redirect_uris"]),
                scope=c["scope"],
                grant_types=tuple(c.get("grant_types", Client.grant_types)),
                token_endpoint_auth_methods=tuple(
                    c.get("token_endpoint_auth_methods", Client.token_endpoint_auth_methods)
                ),
                require_pkce=bool(c.get("require_pkce", False)),
                loopback_any_port=bool(c.get("loopback_any_port", False)),
            )
            for c in data["clients"]
        )
        return cls(users=users, clients=clients)

    def with_redirect_uris(self, extra: Mapping[str, Sequence[str]]) -> Directory:
        """A copy in which client ``client_id`` also accepts each URI of ``extra[client_id]``.

        For a relying party served on a port chosen at start-up (a test's free port, or
        ``make run`` with another DASHBOARD_PORT): still exact matches, unlike
        ``loopback_any_port``, which is meant for native apps.
        """
        unknown = sorted(set(extra) - {c.client_id for c in self.clients})
        if unknown:
            raise ValueError(f"no client named {', '.join(unknown)} in the users file")
        clients = tuple(
            replace(c, redirect_uris=tuple(dict.fromkeys((*c.redirect_uris, *extra.get(c.client_id, ())))))
            for c in self.clients
        )
        return replace(self, clients=clients)

    def user_by_username(self, username: str) -> User | None:
        return next((u for u in self.users if u.username == username), None)

    def user_by_mytoken(self, mytoken: str) -> User | None:
        # Constant-time comparison: the mytoken is a bearer credential.
        return next(
            (
                u
                for u in self.users
                if u.mytoken and hmac.compare_digest(u.mytoken.encode(), mytoken.encode())
            ),
            None,
        )

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.client_id == client_id), None)
