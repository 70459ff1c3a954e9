"""Authlib wiring: the OAuth 2.0 / OpenID Connect protocol of the sandbox provider.

Authlib implements the protocol (request validation, client authentication,
PKCE, ID tokens, error responses); this module only supplies the storage hooks
Authlib asks for and the sandbox's policy:

* authorization code grant with OpenID Connect and PKCE (S256 only; mandatory
  for clients flagged ``require_pkce``),
* refresh token grant with rotation, refresh tokens only for ``offline_access``,
* access tokens minted by ``AccessTokenIssuer`` (signed JWTs),
* the userinfo endpoint behind a bearer-token resource protector.
"""

from __future__ import annotations

import time

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import InvalidRequestError, grants, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator, InvalidTokenError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc import core as oidc

from .keys import SIGNING_ALG, KeyRing
from .models import AuthorizationCode, Directory, RefreshToken
from .store import Store
from .tokens import AccessTokenIssuer

#: Scopes the provider knows; requests for others fail with ``invalid_scope``.
SCOPES_SUPPORTED = ["openid", "email", "profile", "eduperson_entitlement", "offline_access"]

#: Client authentication methods at the token endpoint (each client allows a subset).
TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

#: RFC 6749 recommends at most ten minutes for authorization codes.
AUTHORIZATION_CODE_LIFETIME = 600


class SandboxAuthorizationServer(AuthorizationServer):
    """Flask ``AuthorizationServer`` that carries the sandbox state for its grants."""

    def __init__(self, app, directory: Directory, store: Store, tokens: AccessTokenIssuer):
        self.directory = directory
        self.store = store
        self.tokens = tokens
        super().__init__(app, query_client=directory.client, save_token=self._save_token)

    def _save_token(self, token: dict, request) -> None:
        # Access tokens are recorded when minted (tokens.py); only refresh tokens remain.
        if "refresh_token" not in token:
            return
        # A rotated refresh token keeps the scope of the original grant, so a client
        # that narrowed the scope of one refresh can widen it again on the next.
        previous = request.refresh_token
        scope = previous.get_scope() if previous is not None else token.get("scope", "")
        self.store.add_refresh_token(
            RefreshToken(
                value=token["refresh_token"], client=request.client, user=request.user, scope=scope
            )
        )


class _OfflineAccessRefreshTokens:
    """Issue refresh tokens only when ``offline_access`` was granted (OIDC Core section 11)."""

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True):
        include_refresh_token = include_refresh_token and "offline_access" in scope_to_list(
            scope or ""
        )
        return super().generate_token(
            user=user,
            scope=scope,
            grant_type=grant_type,
            expires_in=expires_in,
            include_refresh_token=include_refresh_token,
        )


class AuthorizationCodeGrant(_OfflineAccessRefreshTokens, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS

    def save_authorization_code(self, code: str, request) -> None:
        now = int(time.time())
        data = request.payload.data
        self.server.store.add_code(
            AuthorizationCode(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                user=request.user,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=now,
                expires_at=now + AUTHORIZATION_CODE_LIFETIME,
            )
        )

    def query_authorization_code(self, code: str, client):
        return self.server.store.get_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.server.store.delete_code(authorization_code.code)

    def authenticate_user(self, authorization_code: AuthorizationCode):
        return authorization_code.user


class RefreshTokenGrant(_OfflineAccessRefreshTokens, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS
    # Rotate: each refresh returns a new refresh token and retires the old one.
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str):
        return self.server.store.get_refresh_token(refresh_token)

    def authenticate_user(self, refresh_token: RefreshToken):
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        self.server.store.revoke_refresh_token(refresh_token.value)


class S256CodeChallenge(CodeChallenge):
    """PKCE restricted to S256 (``plain`` defeats its purpose), mandatory for
    clients registered with ``require_pkce``."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge"):
            # Authlib would treat a missing method as "plain"; insist on S256.
            if data.get("code_challenge_method") != "S256":
                raise InvalidRequestError("'code_challenge_method' must be 'S256'.")
        elif grant.request.client.require_pkce:
            raise InvalidRequestError("This client must use PKCE ('code_challenge' with S256).")


class _IdTokenSigning:
    """How the sandbox signs ID tokens, shared by the code and refresh grants."""

    def __init__(self, issuer: str, keys: KeyRing, **kwargs):
        super().__init__(**kwargs)
        self.issuer = issuer
        self.keys = keys

    def resolve_client_private_key(self, client):
        return self.keys.signing_keys()

    def get_client_algorithm(self, client) -> str:
        return SIGNING_ALG

    def get_client_claims(self, client) -> dict:
        # OIDC Core 2: aud of an ID token is the client_id of the relying party.
        return {"iss": self.issuer, "aud": client.get_client_id()}

    def generate_user_info(self, user, scope):
        return user.user_info(scope)


class OpenIDCode(_IdTokenSigning, oidc.OpenIDCode):
    """ID tokens for the authorization code grant (with nonce replay protection)."""

    def __init__(self, issuer: str, keys: KeyRing, store: Store):
        super().__init__(issuer, keys, require_nonce=False)
        self.store = store

    def exists_nonce(self, nonce: str, request) -> bool:
        return self.store.nonce_used(request.payload.client_id, nonce)


class OpenIDRefresh(_IdTokenSigning, oidc.OpenIDToken):
    """A fresh ID token on refresh (OIDC Core 12.2), so clients can renew their session claims."""


class AccessTokenValidator(BearerTokenValidator):
    """Accepts exactly the access tokens this process issued, while they are valid."""

    def __init__(self, store: Store):
        super().__init__()
        self.store = store

    def authenticate_token(self, token_string: str):
        return self.store.get_access_token(token_string)

    def validate_token(self, token, scopes, request) -> None:
        # Authlib checks expiry but not "nbf"; a token from the future is not valid yet.
        if token is not None and token.is_not_yet_valid():
            raise InvalidTokenError(realm=self.realm, extra_attributes=self.extra_attributes)
        super().validate_token(token, scopes, request)


class UserInfoEndpoint(oidc.UserInfoEndpoint):
    def generate_user_info(self, user, scope: str):
        return user.user_info(scope)


def create_authorization_server(
    app, *, issuer: str, directory: Directory, store: Store, keys: KeyRing,
    tokens: AccessTokenIssuer,
) -> SandboxAuthorizationServer:
    server = SandboxAuthorizationServer(app, directory, store, tokens)
    server.scopes_supported = SCOPES_SUPPORTED
    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            access_token_generator=lambda client, grant_type, user, scope: tokens.issue(
                user, client, scope
            ).value,
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=lambda client, grant_type: tokens.lifetime,
        ),
    )
    server.register_grant(
        AuthorizationCodeGrant,
        [S256CodeChallenge(required=True), OpenIDCode(issuer, keys, store)],
    )
    server.register_grant(RefreshTokenGrant, [OpenIDRefresh(issuer, keys)])

    protector = ResourceProtector()
    protector.register_token_validator(AccessTokenValidator(store))
    server.register_endpoint(UserInfoEndpoint(resource_protector=protector))
    return server
