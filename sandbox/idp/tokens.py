"""Access token minting, shared by every way the sandbox hands out access tokens.

The OAuth token endpoint (through Authlib's ``BearerTokenGenerator``), the
MyToken exchange and the ``/sandbox/token`` helper all go through
``AccessTokenIssuer``, so a token looks the same whichever door it came from:
an RFC 9068 style JWT (``typ: at+jwt``) signed with the current key, or an
opaque random string. Either way it is recorded in the store, which is what
``/userinfo`` consults.
"""

from __future__ import annotations

import secrets
import time
import uuid

from joserfc import jwt

from .keys import SIGNING_ALG, KeyRing
from .models import AccessToken, Client, User
from .store import Store

#: The ``aud`` of access tokens unless a caller asks for another one.
DEFAULT_AUDIENCE = "drift-monitor"

#: Scope of tokens minted outside an OAuth flow: everything userinfo can release.
DEFAULT_SCOPE = "openid email profile eduperson_entitlement"


class AccessTokenIssuer:
    def __init__(
        self,
        issuer: str,
        keys: KeyRing,
        store: Store,
        lifetime: int,
        audience: str | list[str] = DEFAULT_AUDIENCE,
    ) -> None:
        self.issuer = issuer
        self.keys = keys
        self.store = store
        self.lifetime = lifetime
        self.audience = audience

    def issue(
        self,
        user: User,
        client: Client,
        scope: str,
        *,
        expires_in: int | None = None,
        not_before_in: int = 0,
        audience: str | list[str] | None = None,
        opaque: bool = False,
    ) -> AccessToken:
        """Mint and record an access token.

        ``expires_in`` may be negative (an already expired token) and
        ``not_before_in`` positive (a token not valid yet): both exist so tests
        can exercise a relying party's time checks.
        """
        now = int(time.time())
        lifetime = self.lifetime if expires_in is None else expires_in
        record = AccessToken(
            value="",
            client=client,
            user=user,
            scope=scope,
            issued_at=now,
            not_before=now + not_before_in,
            expires_at=now + lifetime,
        )
        if opaque:
            record.value = secrets.token_urlsafe(32)
        else:
            record.value = self._encode_jwt(record, audience or self.audience)
        self.store.add_access_token(record)
        return record

    def _encode_jwt(self, record: AccessToken, audience: str | list[str]) -> str:
        claims = {
            "iss": self.issuer,
            "sub": record.user.sub,
            "aud": audience,
            "exp": record.expires_at,
            "iat": record.issued_at,
            "nbf": record.not_before,
            "jti": str(uuid.uuid4()),
            "client_id": record.client.client_id,
            "scope": record.scope,
            "eduperson_entitlement": list(record.user.entitlements),
        }
        if record.user.email:
            claims["email"] = record.user.email
        header = {"alg": SIGNING_ALG, "typ": "at+jwt"}
        return jwt.encode(header, claims, self.keys.signing_keys(), algorithms=[SIGNING_ALG])
