"""OIDC bearer-token validation: discovery → JWKS → signature, issuer, expiry; then userinfo.

Everything fetched from an identity provider is cached, so a request that carries a token
already seen costs no network call. Opaque (non-JWT) tokens are resolved through the
userinfo endpoints of the trusted issuers.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass

import cachetools
import flask
import jwt
import requests

from ..errors import Unauthorized, Unavailable
from ..settings import Settings

log = logging.getLogger(__name__)

# Asymmetric algorithms only: a symmetric one would let anyone holding a public key forge tokens.
SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
DISCOVERY_TTL_SECONDS = 3600
JWKS_TTL_SECONDS = 3600
# An unknown `kid` refetches the key set at most this often, so random kids cannot flood the IdP.
JWKS_REFRESH_COOLDOWN_SECONDS = 2.0
# How long a token's userinfo answer is reused (never past the token's own expiry).
USERINFO_TTL_SECONDS = 300
CLOCK_SKEW_SECONDS = 10


@dataclass(frozen=True)
class Identity:
    """Who a valid token belongs to."""

    issuer: str
    subject: str
    email: str | None
    entitlements: frozenset[str]


class _Provider:
    """One trusted issuer: its discovery document and key set, fetched lazily and cached."""

    def __init__(self, issuer: str, session: requests.Session, timeout: float):
        self.issuer = issuer
        self._session = session
        self._timeout = timeout
        self._metadata: dict | None = None
        self._metadata_at = 0.0
        self._jwks_client: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def metadata(self) -> dict:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at > DISCOVERY_TTL_SECONDS:
                url = f"{self.issuer}/.well-known/openid-configuration"
                self._metadata = self._get_json(url)
                self._metadata_at = time.monotonic()
                self._jwks_client = None
            return self._metadata

    def signing_key(self, token: str):
        metadata = self.metadata()
        with self._lock:
            if self._jwks_client is None:
                if "jwks_uri" not in metadata:
                    raise Unavailable(f"identity provider {self.issuer} publishes no jwks_uri")
                self._jwks_client = jwt.PyJWKClient(
                    metadata["jwks_uri"],
                    lifespan=JWKS_TTL_SECONDS,
                    timeout=self._timeout,
                    cooldown_duration=JWKS_REFRESH_COOLDOWN_SECONDS,
                )
            client = self._jwks_client
        try:
            return client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as error:
            raise Unavailable(f"cannot fetch the signing keys of {self.issuer}: {error}") from error
        except jwt.PyJWKClientError as error:
            raise Unauthorized(f"token signed with a key unknown to {self.issuer}") from error

    def userinfo(self, token: str) -> dict | None:
        """Userinfo claims, or None when the provider does not accept the token."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not endpoint:
            return {}
        try:
            response = self._session.get(
                endpoint, headers={"Authorization": f"Bearer {token}"}, timeout=self._timeout
            )
        except requests.RequestException as error:
            raise Unavailable(f"identity provider {self.issuer} is unreachable: {error}") from error
        if response.status_code in (400, 401, 403):
            return None
        if response.status_code != 200:
            raise Unavailable(f"identity provider {self.issuer} answered {response.status_code} on userinfo")
        try:
            return response.json()
        except ValueError as error:
            raise Unavailable(f"identity provider {self.issuer} sent invalid userinfo JSON") from error

    def _get_json(self, url: str) -> dict:
        try:
            response = self._session.get(url, timeout=self._timeout)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as error:
            raise Unavailable(f"identity provider {self.issuer} is unreachable: {error}") from error


class TokenValidator:
    """Turns a bearer token into an :class:`Identity` or raises :class:`Unauthorized`."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._session = requests.Session()
        self._providers = {
            issuer: _Provider(issuer, self._session, settings.oidc_timeout_seconds)
            for issuer in settings.trusted_op_list
        }
        self._identities: cachetools.TTLCache = cachetools.TTLCache(maxsize=10_000, ttl=USERINFO_TTL_SECONDS)
        self._cache_lock = threading.Lock()

    def identify(self, token: str) -> Identity:
        key = hashlib.sha256(token.encode()).hexdigest()
        with self._cache_lock:
            cached = self._identities.get(key)
        if cached is not None:
            identity, expires_at = cached
            if expires_at is None or expires_at > time.time():
                return identity
            raise Unauthorized("the access token has expired")

        identity, expires_at = self._identify_uncached(token)
        with self._cache_lock:
            self._identities[key] = (identity, expires_at)
        return identity

    def _identify_uncached(self, token: str) -> tuple[Identity, float | None]:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.DecodeError:
            return self._identify_opaque(token), None

        issuer = str(unverified.get("iss", "")).rstrip("/")
        provider = self._providers.get(issuer)
        if provider is None:
            raise Unauthorized(f"tokens of issuer {unverified.get('iss')!r} are not accepted here")
        claims = self._verify_jwt(token, provider)
        userinfo = provider.userinfo(token)
        if userinfo is None:
            raise Unauthorized("the identity provider rejected the access token")
        if userinfo.get("sub", claims["sub"]) != claims["sub"]:
            raise Unauthorized("userinfo subject does not match the token subject")
        return self._identity(provider.issuer, {**claims, **userinfo}), float(claims["exp"])

    def _verify_jwt(self, token: str, provider: _Provider) -> dict:
        key = provider.signing_key(token)
        audience = self._settings.token_audience
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=SIGNING_ALGORITHMS,
                issuer=provider.issuer,
                audience=audience,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "sub"], "verify_aud": audience is not None},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthorized("the access token has expired") from error
        except jwt.ImmatureSignatureError as error:
            raise Unauthorized("the access token is not valid yet") from error
        except jwt.InvalidAudienceError as error:
            raise Unauthorized(f"the access token is not meant for audience {audience!r}") from error
        except jwt.InvalidIssuerError as error:
            raise Unauthorized("the access token issuer does not match") from error
        except jwt.InvalidTokenError as error:
            raise Unauthorized(f"invalid access token: {error}") from error

    def _identify_opaque(self, token: str) -> Identity:
        for provider in self._providers.values():
            userinfo = provider.userinfo(token)
            if userinfo and userinfo.get("sub"):
                return self._identity(provider.issuer, userinfo)
        raise Unauthorized("the access token is not a valid token of any trusted issuer")

    def _identity(self, issuer: str, claims: dict) -> Identity:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("the access token has no subject")
        email = claims.get("email")
        return Identity(
            issuer=issuer,
            subject=subject,
            email=email if isinstance(email, str) and email else None,
            entitlements=frozenset(_claim_at_path(claims, self._settings.entitlements_path)),
        )


def _claim_at_path(claims: dict, path: str) -> list[str]:
    """Entitlements at a `/`-separated claim path; a single string counts as a list of one."""
    value: object = claims
    for part in path.split("/"):
        if not isinstance(value, dict):
            return []
        value = value.get(part)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def bearer_token() -> str | None:
    """The request's bearer token, None when no Authorization header is sent."""
    header = flask.request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <access token>'", error_code="invalid_request")
    return token.strip()
