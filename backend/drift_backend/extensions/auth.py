"""Who calls a request: its OIDC bearer token validated into an identity, and the caller built from it.

A token is checked by discovery → JWKS → signature, issuer, expiry, then userinfo; the caller adds
the registered user id (repositories.users) and whether the identity is an administrator.

Everything fetched from an identity provider is cached, so a request that carries a token
already seen costs no network call, and nothing is cached past a token's expiry. A JWT must name
this API (`aud`, `azp` or `client_id` in APP_TOKEN_AUDIENCE). Entitlements count only from the
issuers of APP_ENTITLEMENT_ISSUERS. Opaque (non-JWT) tokens go only to the userinfo endpoints of
APP_OPAQUE_TOKEN_ISSUERS, never to every issuer (that would disclose one issuer's tokens to another),
and a rejected one is remembered briefly so junk tokens cause no stream of outbound calls.
Upstream failure details are logged, never sent to the caller (they name hosts and proxies).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import cachetools
import flask
import jwt
import requests

from ..errors import Unauthorized, Unavailable
from ..identity import Caller, Identity
from ..repositories.users import Users
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
# A rejected opaque token is refused from memory for this long.
REJECTED_TTL_SECONDS = 30
IDP_UNAVAILABLE = "the identity provider is unavailable; try again shortly"


def _unavailable(issuer: str, what: str, error: BaseException | None = None) -> Unavailable:
    """The generic 503, with the details (URLs, hosts, proxies in the exception) in the log only."""
    log.warning("identity provider %s: %s%s", issuer, what, f": {error}" if error else "", exc_info=error)
    return Unavailable(IDP_UNAVAILABLE)


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
                    raise _unavailable(self.issuer, "publishes no jwks_uri")
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
            raise _unavailable(self.issuer, "cannot fetch the signing keys", error) from error
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
            raise _unavailable(self.issuer, "userinfo unreachable", error) from error
        if response.status_code in (400, 401, 403):
            return None
        if response.status_code != 200:
            raise _unavailable(self.issuer, f"answered {response.status_code} on userinfo")
        try:
            claims = response.json()
        except ValueError as error:
            raise _unavailable(self.issuer, "sent invalid userinfo JSON", error) from error
        if not isinstance(claims, dict):
            raise _unavailable(self.issuer, "sent userinfo that is not a JSON object")
        return claims

    def _get_json(self, url: str) -> dict:
        try:
            response = self._session.get(url, timeout=self._timeout)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise _unavailable(self.issuer, f"{url} unreachable", error) from error
        if not isinstance(document, dict):
            raise _unavailable(self.issuer, f"{url} is not a JSON object")
        return document


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
        self._rejected: cachetools.TTLCache = cachetools.TTLCache(maxsize=10_000, ttl=REJECTED_TTL_SECONDS)
        self._cache_lock = threading.Lock()

    def identify(self, token: str) -> Identity:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.time()
        with self._cache_lock:
            cached = self._identities.get(key)
            rejected = self._rejected.get(key)
        if rejected is not None:
            raise Unauthorized(rejected)
        if cached is not None:
            identity, fresh_until = cached
            if fresh_until > now:
                return identity
            with self._cache_lock:
                self._identities.pop(key, None)

        identity, fresh_until = self._identify_uncached(token, key)
        with self._cache_lock:
            self._identities[key] = (identity, fresh_until)
        return identity

    def _identify_uncached(self, token: str, key: str) -> tuple[Identity, float]:
        """The identity and until when it may be reused without asking again."""
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.DecodeError:
            try:
                return self._identify_opaque(token)
            except Unauthorized as error:
                with self._cache_lock:
                    self._rejected[key] = error.message
                raise

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

    def _check_audience(self, claims: dict) -> None:
        """The token was issued for this API: `aud` names it, or `azp`/`client_id` is it."""
        allowed = self._settings.token_audience
        if not allowed:
            return
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        presented = {value for value in (*audiences, claims.get("azp"), claims.get("client_id"))
                     if isinstance(value, str)}
        if presented.isdisjoint(allowed):
            raise Unauthorized("the access token is not meant for this API (audience)")

    def _verify_jwt(self, token: str, provider: _Provider) -> dict:
        key = provider.signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=SIGNING_ALGORITHMS,
                issuer=provider.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                # The audience is checked below: PyJWT's check knows `aud` only, not `azp`/`client_id`.
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthorized("the access token has expired") from error
        except jwt.ImmatureSignatureError as error:
            raise Unauthorized("the access token is not valid yet") from error
        except jwt.InvalidIssuerError as error:
            raise Unauthorized("the access token issuer does not match") from error
        except jwt.InvalidTokenError as error:
            raise Unauthorized(f"invalid access token: {error}") from error
        self._check_audience(claims)
        return claims

    def _identify_opaque(self, token: str) -> tuple[Identity, float]:
        issuers = self._settings.opaque_token_issuers
        if not issuers:
            raise Unauthorized("opaque access tokens are not accepted here; send a JWT access token")
        for issuer in issuers:
            userinfo = self._providers[issuer].userinfo(token)  # settings made sure it is trusted
            if userinfo and userinfo.get("sub"):
                fresh_until = time.time() + self._settings.opaque_token_ttl_seconds
                expiry = userinfo.get("exp")
                if isinstance(expiry, (int, float)) and not isinstance(expiry, bool):
                    if expiry <= time.time():
                        raise Unauthorized("the access token has expired")
                    fresh_until = min(fresh_until, float(expiry))
                return self._identity(issuer, userinfo), fresh_until
        raise Unauthorized("the access token is not a valid token of any issuer that takes opaque tokens")

    def _identity(self, issuer: str, claims: dict) -> Identity:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("the access token has no subject")
        email = claims.get("email")
        return Identity(
            issuer=issuer,
            subject=subject,
            email=email if isinstance(email, str) and email else None,
            entitlements=frozenset(_claim_at_path(claims, self._settings.entitlements_path))
            if issuer in self._settings.entitlement_issuers else frozenset(),
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


def resolve_caller() -> Caller:
    """The request's caller, from its bearer token; cached on `flask.g` for the request."""
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
