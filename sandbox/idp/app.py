"""HTTP surface of the sandbox identity provider (Flask application factory).

Routes, all relative to the issuer:

* OpenID Connect: ``/.well-known/openid-configuration``, ``/jwks``,
  ``/authorize`` (an HTML user picker instead of a login form), ``/token``,
  ``/userinfo`` — protocol handled by Authlib (see ``oauth.py``).
* MyToken-compatible API: ``/.well-known/mytoken-configuration`` and
  ``/api/v0/token/access``, exchanging the per-user mytokens of users.json
  for access tokens, as ``libmytoken`` and the drift-monitor client expect.
* Development-only helpers under ``/sandbox/``: mint arbitrary tokens, rotate
  the signing key and count the requests received. They exist so tests can create
  users and edge cases without a browser, and check which calls a relying party
  made; a relying party must never depend on them.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask import Flask, jsonify, render_template, request

from .keys import SIGNING_ALG, KeyRing
from .models import DEFAULT_USERS_FILE, Client, Directory, User
from .oauth import SCOPES_SUPPORTED, TOKEN_ENDPOINT_AUTH_METHODS, create_authorization_server
from .store import Store
from .tokens import DEFAULT_SCOPE, AccessTokenIssuer

#: Nominal client_id of access tokens obtained through the MyToken exchange.
MYTOKEN_CLIENT_ID = "mytoken"
#: Nominal client_id of access tokens minted by ``/sandbox/token`` (overridable).
SANDBOX_CLIENT_ID = "sandbox"

CLAIMS_SUPPORTED = [
    "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
    "email", "email_verified", "name", "preferred_username", "eduperson_entitlement",
]


@dataclass(frozen=True)
class IdpConfig:
    issuer: str
    users_file: Path = DEFAULT_USERS_FILE
    access_token_lifetime: int = 3600
    #: Redirect URIs accepted for a client on top of those in the users file, by client_id.
    extra_redirect_uris: Mapping[str, Sequence[str]] = field(default_factory=dict)


def create_app(config: IdpConfig) -> Flask:
    issuer = config.issuer.rstrip("/")
    if issuer.startswith("http://"):
        # Authlib refuses plain-HTTP OAuth unless told otherwise; the sandbox is
        # meant for localhost and containers, where TLS would only get in the way.
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

    directory = Directory.load(config.users_file).with_redirect_uris(config.extra_redirect_uris)
    keys = KeyRing()
    store = Store()
    tokens = AccessTokenIssuer(issuer, keys, store, config.access_token_lifetime)

    app = Flask(__name__)
    server = create_authorization_server(
        app, issuer=issuer, directory=directory, store=store, keys=keys, tokens=tokens
    )
    discovery = _discovery_document(issuer)
    mytoken_configuration = {
        "issuer": issuer,
        "access_token_endpoint": f"{issuer}/api/v0/token/access",
        "mytoken_endpoint": f"{issuer}/api/v0/token/my",
        "providers_supported": [{"issuer": issuer, "scopes_supported": SCOPES_SUPPORTED}],
    }

    # Requests per path, so a test can prove a relying party did (or did not) ask this provider.
    requests_seen: Counter[str] = Counter()
    requests_lock = threading.Lock()

    @app.before_request
    def count_request():
        with requests_lock:
            requests_seen[request.path] += 1

    # -- OpenID Connect ----------------------------------------------------------

    @app.get("/.well-known/openid-configuration")
    def openid_configuration():
        return jsonify(discovery)

    @app.get("/jwks")
    def jwks():
        return jsonify(keys.public_jwks())

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize():
        if request.method == "GET":
            try:
                grant = server.get_consent_grant(end_user=None)
            except OAuth2Error as error:
                return server.handle_error_response(request, error)
            return render_template(
                "authorize.html",
                client_id=grant.client.client_id,
                scope=grant.request.scope,
                users=directory.users,
                # Post back to this very URL so the authorization request
                # parameters travel with the pick.
                action="?" + request.query_string.decode(),
            )

        user = None
        if not request.form.get("deny"):
            user = directory.user_by_username(request.form.get("username", ""))
            if user is None:
                return _error(400, "invalid_request", "Unknown sandbox user.")
        try:
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            return server.handle_error_response(request, error)
        # grant_user=None makes Authlib redirect with error=access_denied.
        return server.create_authorization_response(grant_user=user, grant=grant)

    @app.post("/token")
    def token():
        return server.create_token_response()

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo():
        return server.create_endpoint_response("userinfo")

    # -- MyToken-compatible API ----------------------------------------------------

    @app.get("/.well-known/mytoken-configuration")
    def mytoken_config():
        return jsonify(mytoken_configuration)

    @app.post("/api/v0/token/access")
    def mytoken_access_token():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "invalid_request", "The body must be a JSON object.")
        if body.get("grant_type") != "mytoken":
            return _error(400, "invalid_request", "'grant_type' must be 'mytoken'.")
        mytoken = body.get("mytoken")
        if not isinstance(mytoken, str) or not mytoken:
            return _error(400, "invalid_request", "'mytoken' is required.")
        oidc_issuer = body.get("oidc_issuer")
        if oidc_issuer is not None and str(oidc_issuer).rstrip("/") != issuer:
            return _error(400, "invalid_request", f"Unsupported 'oidc_issuer'; only {issuer}.")
        scope = body.get("scope") or DEFAULT_SCOPE
        if not isinstance(scope, str) or not set(scope_to_list(scope)) <= set(SCOPES_SUPPORTED):
            return _error(400, "invalid_request", "Unsupported 'scope'.")
        try:
            audience = _audience(body.get("audience"))
        except ValueError as exc:
            return _error(400, "invalid_request", str(exc))

        user = directory.user_by_mytoken(mytoken)
        if user is None:
            return _error(401, "invalid_grant", "Unknown or revoked mytoken.")
        issued = tokens.issue(user, Client.unregistered(MYTOKEN_CLIENT_ID), scope,
                              audience=audience)
        return _token_response(issued)

    @app.post("/api/v0/token/my")
    def mytoken_issue():
        # Listed in the configuration because clients expect the key; the
        # sandbox's mytokens are fixed per user in users.json.
        return _error(400, "unsupported_grant_type",
                      "The sandbox does not issue mytokens; use those in sandbox/users.json.")

    # -- Development-only helpers --------------------------------------------------

    @app.post("/sandbox/token")
    def sandbox_token():
        """Mint an access token for any subject and claims (no client, no user interaction)."""
        body = request.get_json(silent=True)
        try:
            params = _SandboxTokenRequest.parse(body, tokens.lifetime)
        except ValueError as exc:
            return _error(400, "invalid_request", str(exc))
        issued = tokens.issue(
            params.user,
            Client.unregistered(params.client_id),
            params.scope,
            expires_in=params.expires_in,
            not_before_in=params.not_before_in,
            audience=params.audience,
            opaque=params.opaque,
        )
        return _token_response(issued)

    @app.post("/sandbox/rotate-keys")
    def sandbox_rotate_keys():
        """Make a new signing key current; earlier keys stay in the JWKS."""
        return jsonify({"kid": keys.rotate()})

    @app.get("/sandbox/requests")
    def sandbox_requests():
        """Requests received so far, by path (this one included)."""
        with requests_lock:
            return jsonify(dict(requests_seen))

    return app


def _discovery_document(issuer: str) -> dict:
    metadata = OpenIDProviderMetadata(
        issuer=issuer,
        authorization_endpoint=f"{issuer}/authorize",
        token_endpoint=f"{issuer}/token",
        userinfo_endpoint=f"{issuer}/userinfo",
        jwks_uri=f"{issuer}/jwks",
        scopes_supported=SCOPES_SUPPORTED,
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=["authorization_code", "refresh_token"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=[SIGNING_ALG],
        token_endpoint_auth_methods_supported=TOKEN_ENDPOINT_AUTH_METHODS,
        claims_supported=CLAIMS_SUPPORTED,
        code_challenge_methods_supported=["S256"],
        prompt_values_supported=["none", "login", "consent", "select_account"],
    )
    # Fail at start-up rather than hand relying parties an invalid document.
    metadata.validate()
    return dict(metadata)


def _error(status: int, error: str, description: str):
    # Both keys always: libmytoken reads error and error_description unconditionally.
    return jsonify({"error": error, "error_description": description}), status


def _token_response(issued):
    return jsonify(
        {
            "access_token": issued.value,
            "token_type": "Bearer",
            "expires_in": issued.get_expires_in(),
            "scope": issued.scope,
        }
    )


def _audience(value) -> str | list[str] | None:
    """An audience given as a string (space-separated for several) or a list of strings."""
    if value is None:
        return None
    if isinstance(value, str):
        audiences = value.split()
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        audiences = value
    else:
        raise ValueError("'audience' must be a string or a list of strings.")
    if not audiences:
        return None
    return audiences[0] if len(audiences) == 1 else audiences


def _is_int(value) -> bool:
    # bool is an int subclass; true/false for a lifetime is a caller bug.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class _SandboxTokenRequest:
    """A validated ``/sandbox/token`` body."""

    user: User
    client_id: str
    scope: str
    expires_in: int
    not_before_in: int
    audience: str | list[str] | None
    opaque: bool

    FIELDS = frozenset({
        "sub", "email", "name", "preferred_username", "entitlements", "expires_in",
        "not_before_in", "opaque", "audience", "scope", "client_id",
    })

    @classmethod
    def parse(cls, body, default_lifetime: int) -> _SandboxTokenRequest:
        if not isinstance(body, dict):
            raise ValueError("The body must be a JSON object.")
        # Unknown keys are rejected so a misspelt option fails the test that used it.
        unknown = sorted(set(body) - cls.FIELDS)
        if unknown:
            raise ValueError(f"Unknown fields: {', '.join(unknown)}.")
        sub = body.get("sub")
        if not isinstance(sub, str) or not sub:
            raise ValueError("'sub' must be a non-empty string.")
        for key in ("email", "name", "preferred_username", "scope", "client_id"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise ValueError(f"'{key}' must be a string.")
        entitlements = body.get("entitlements") or []
        if not isinstance(entitlements, list) or not all(isinstance(e, str) for e in entitlements):
            raise ValueError("'entitlements' must be a list of strings.")
        expires_in = body.get("expires_in", default_lifetime)
        not_before_in = body.get("not_before_in", 0)
        if not _is_int(expires_in) or not _is_int(not_before_in):
            raise ValueError("'expires_in' and 'not_before_in' must be integers (seconds).")
        opaque = body.get("opaque", False)
        if not isinstance(opaque, bool):
            raise ValueError("'opaque' must be a boolean.")
        scope = body.get("scope") or DEFAULT_SCOPE
        if not set(scope_to_list(scope)) <= set(SCOPES_SUPPORTED):
            raise ValueError("Unsupported 'scope'.")
        return cls(
            user=User(
                sub=sub,
                username=body.get("preferred_username"),
                email=body.get("email"),
                name=body.get("name"),
                entitlements=tuple(entitlements),
            ),
            client_id=body.get("client_id") or SANDBOX_CLIENT_ID,
            scope=scope,
            expires_in=expires_in,
            not_before_in=not_before_in,
            audience=_audience(body.get("audience")),
            opaque=opaque,
        )
