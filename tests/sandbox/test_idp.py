"""Tests of the sandbox OIDC identity provider, driven over HTTP like a relying party.

The provider runs as its own process (started once per module with
``start_idp``); tokens are validated the way the backend does it: discovery,
JWKS, RS256 signature, ``iss``, ``aud`` and ``exp`` via PyJWT.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, urljoin, urlsplit

import jwt
import pytest
import requests

from sandbox.idp.launcher import REPO_ROOT, SandboxIdp, SandboxIdpError, start_idp

TIMEOUT = 10
AUDIENCE = "drift-monitor"
DASHBOARD = ("drift-monitor-dashboard", "sandbox-dashboard-secret")
DASHBOARD_REDIRECT = "http://localhost:8501/oauth2callback"
CLI = "drift-monitor-cli"
USERS = "urn:example:drift-monitor:users"


@pytest.fixture(scope="module")
def idp():
    with start_idp() as provider:
        yield provider


@pytest.fixture(scope="module")
def discovery(idp):
    response = requests.get(idp.discovery_url, timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()


def validate(token: str, idp: SandboxIdp, audience: str = AUDIENCE) -> dict:
    """Validate a JWT as the backend does: keys from the published JWKS, RS256 only."""
    signing_key = jwt.PyJWKClient(idp.jwks_uri, timeout=TIMEOUT).get_signing_key_from_jwt(token)
    return jwt.decode(
        token, signing_key.key, algorithms=["RS256"], audience=audience, issuer=idp.issuer
    )


def userinfo(idp: SandboxIdp, token: str, method: str = "GET") -> requests.Response:
    return requests.request(
        method, f"{idp.issuer}/userinfo",
        headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT,
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize(idp: SandboxIdp, params: dict, pick: dict) -> dict:
    """Drive /authorize like a browser: load the picker, submit its form, read the redirect.

    Returns the query parameters of the redirect back to the client.
    """
    page = requests.get(f"{idp.issuer}/authorize", params=params, timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="([^"]*)"', page.text)
    assert action, "the picker has no form"
    response = requests.post(
        urljoin(page.url, html.unescape(action.group(1))),
        data=pick, allow_redirects=False, timeout=TIMEOUT,
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert location._replace(query="").geturl() == params["redirect_uri"]
    return dict(parse_qsl(location.query))


def dashboard_login(idp: SandboxIdp, scope: str, username: str = "alice") -> tuple[dict, str]:
    """The dashboard's authorization code + PKCE flow; returns (token response, nonce)."""
    verifier, challenge = pkce_pair()
    nonce, state = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    redirect = authorize(
        idp,
        {
            "response_type": "code", "client_id": DASHBOARD[0], "redirect_uri": DASHBOARD_REDIRECT,
            "scope": scope, "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256",
        },
        {"username": username},
    )
    assert redirect["state"] == state
    response = requests.post(
        f"{idp.issuer}/token",
        data={
            "grant_type": "authorization_code", "code": redirect["code"],
            "redirect_uri": DASHBOARD_REDIRECT, "code_verifier": verifier,
        },
        auth=DASHBOARD, timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return response.json(), nonce


# -- discovery and keys ------------------------------------------------------------


def test_discovery_document(idp, discovery):
    issuer = idp.issuer
    assert issuer.startswith("http://127.0.0.1:") and not issuer.endswith("/")
    assert discovery["issuer"] == issuer
    assert discovery["authorization_endpoint"] == f"{issuer}/authorize"
    assert discovery["token_endpoint"] == f"{issuer}/token"
    assert discovery["userinfo_endpoint"] == f"{issuer}/userinfo"
    assert discovery["jwks_uri"] == f"{issuer}/jwks"
    assert discovery["response_types_supported"] == ["code"]
    assert set(discovery["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"openid", "email", "profile", "eduperson_entitlement", "offline_access"} <= set(
        discovery["scopes_supported"]
    )
    assert {"sub", "email", "eduperson_entitlement"} <= set(discovery["claims_supported"])
    assert {"client_secret_basic", "client_secret_post", "none"} <= set(
        discovery["token_endpoint_auth_methods_supported"]
    )


def test_jwks_publishes_public_rsa_signing_keys(idp):
    keys = requests.get(idp.jwks_uri, timeout=TIMEOUT).json()["keys"]
    assert keys
    for key in keys:
        assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
        assert key["kid"]
        assert "d" not in key and "p" not in key, "private key material published"
        modulus = base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4))
        assert len(modulus) * 8 == 2048


# -- /sandbox/token ----------------------------------------------------------------


def test_sandbox_jwt_validates_and_carries_the_given_claims(idp):
    token = idp.token("sub-123", email="x@example.org", entitlements=[USERS, "urn:x"])
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "at+jwt" and header["kid"]

    claims = validate(token, idp)
    assert claims["sub"] == "sub-123"
    assert claims["email"] == "x@example.org"
    assert claims["eduperson_entitlement"] == [USERS, "urn:x"]
    assert claims["aud"] == AUDIENCE and claims["iss"] == idp.issuer
    assert claims["nbf"] <= claims["iat"] < claims["exp"] == claims["iat"] + 3600
    for claim in ("jti", "client_id", "scope"):
        assert claims[claim]


def test_sandbox_jwt_fails_validation_when_tampered_or_for_another_audience(idp):
    token = idp.token("sub-123", entitlements=[USERS])
    with pytest.raises(jwt.InvalidAudienceError):
        validate(token, idp, audience="someone-else")

    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["eduperson_entitlement"] = ["urn:example:drift-monitor:admins"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        validate(f"{header}.{forged_payload}.{signature}", idp)


def test_sandbox_token_audience_can_be_overridden(idp):
    token = idp.token("sub-aud", audience=["api-a", "api-b"])
    assert validate(token, idp, audience="api-b")["aud"] == ["api-a", "api-b"]
    with pytest.raises(jwt.InvalidAudienceError):
        validate(token, idp)


def test_expired_token_is_rejected(idp):
    token = idp.token("sub-expired", entitlements=[USERS], expires_in=-60)
    with pytest.raises(jwt.ExpiredSignatureError):
        validate(token, idp)
    assert userinfo(idp, token).status_code == 401


def test_not_yet_valid_token_is_rejected(idp):
    token = idp.token("sub-future", not_before_in=600)
    with pytest.raises(jwt.ImmatureSignatureError):
        validate(token, idp)
    assert userinfo(idp, token).status_code == 401


def test_sandbox_token_rejects_malformed_requests(idp):
    url = f"{idp.issuer}/sandbox/token"
    for body in ({}, {"sub": ""}, {"sub": "x", "expires_in": "soon"},
                 {"sub": "x", "entitlements": "urn:x"}, {"sub": "x", "entitelments": []}):
        response = requests.post(url, json=body, timeout=TIMEOUT)
        assert response.status_code == 400, body
        assert response.json()["error"] == "invalid_request"
    with pytest.raises(SandboxIdpError, match="400"):
        idp.token("x", unknown_option=True)


# -- userinfo ----------------------------------------------------------------------


def test_userinfo_answers_with_the_claims_of_a_sandbox_jwt(idp):
    token = idp.token("sub-ui", email="ui@example.org", entitlements=[USERS], name="U I")
    response = userinfo(idp, token)
    assert response.status_code == 200
    assert response.json() == {
        "sub": "sub-ui", "email": "ui@example.org", "email_verified": True,
        "name": "U I", "eduperson_entitlement": [USERS],
    }
    assert userinfo(idp, token, method="POST").json()["sub"] == "sub-ui"


def test_userinfo_resolves_opaque_tokens(idp):
    token = idp.token("sub-opaque", email="o@example.org", entitlements=["urn:o"], opaque=True)
    assert token.count(".") != 2, "an opaque token must not be a JWT"
    with pytest.raises(jwt.DecodeError):
        jwt.decode(token, options={"verify_signature": False})
    info = userinfo(idp, token).json()
    assert (info["sub"], info["email"], info["eduperson_entitlement"]) == (
        "sub-opaque", "o@example.org", ["urn:o"]
    )
    expired = idp.token("sub-opaque", opaque=True, expires_in=-1)
    assert userinfo(idp, expired).status_code == 401


def test_userinfo_rejects_unknown_tokens(idp):
    for token in ("garbage", secrets.token_urlsafe(32), idp.token("x") + "x"):
        response = userinfo(idp, token)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert requests.get(f"{idp.issuer}/userinfo", timeout=TIMEOUT).status_code == 401


# -- MyToken -----------------------------------------------------------------------


def test_mytoken_configuration(idp):
    config = requests.get(f"{idp.issuer}/.well-known/mytoken-configuration", timeout=TIMEOUT).json()
    assert config["issuer"] == idp.issuer
    assert config["access_token_endpoint"] == f"{idp.issuer}/api/v0/token/access"
    assert config["mytoken_endpoint"].startswith(idp.issuer)


@pytest.mark.parametrize("username", ["alice", "bob", "carol", "admin", "mallory"])
def test_mytoken_exchange_issues_a_valid_token_for_the_user(idp, username):
    user = idp.users[username]
    token = idp.user_token(username)
    claims = validate(token, idp)
    assert claims["sub"] == user["sub"]
    assert claims["email"] == user["email"]
    assert claims["eduperson_entitlement"] == user["entitlements"]

    info = userinfo(idp, token).json()
    assert info["preferred_username"] == username
    assert info["name"] == user["name"]
    assert info["eduperson_entitlement"] == user["entitlements"]


def test_mytoken_exchange_response_shape_and_options(idp):
    response = requests.post(
        f"{idp.issuer}/api/v0/token/access",
        json={"grant_type": "mytoken", "mytoken": idp.mytoken("bob"), "scope": "openid email",
              "audience": "other-api", "comment": "test", "oidc_issuer": idp.issuer},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    claims = validate(body["access_token"], idp, audience="other-api")
    assert claims["scope"] == "openid email"


def test_mytoken_errors(idp):
    url = f"{idp.issuer}/api/v0/token/access"
    unknown = requests.post(url, json={"grant_type": "mytoken", "mytoken": "nope"}, timeout=TIMEOUT)
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_grant" and unknown.json()["error_description"]

    mytoken = idp.mytoken("alice")
    for kwargs in ({"json": {"grant_type": "refresh_token", "mytoken": mytoken}},
                   {"json": {"mytoken": mytoken}},
                   {"json": {"grant_type": "mytoken"}},
                   {"json": ["not", "an", "object"]},
                   {"data": "grant_type=mytoken&mytoken=" + mytoken}):
        response = requests.post(url, timeout=TIMEOUT, **kwargs)
        assert response.status_code == 400, kwargs
        error = response.json()
        assert error["error"] == "invalid_request" and error["error_description"]


# -- authorization code flow ---------------------------------------------------------


def test_authorization_code_flow_with_pkce(idp):
    alice = idp.users["alice"]
    tokens, nonce = dashboard_login(idp, "openid email profile eduperson_entitlement")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    assert "refresh_token" not in tokens, "no offline_access, no refresh token"

    id_token = validate(tokens["id_token"], idp, audience=DASHBOARD[0])
    assert id_token["nonce"] == nonce
    assert id_token["sub"] == alice["sub"] and id_token["email"] == alice["email"]
    assert id_token["at_hash"]

    access = validate(tokens["access_token"], idp)
    assert access["sub"] == alice["sub"]
    assert access["client_id"] == DASHBOARD[0]
    assert access["eduperson_entitlement"] == alice["entitlements"]
    assert userinfo(idp, tokens["access_token"]).json()["preferred_username"] == "alice"


def test_authorization_code_is_single_use_and_bound_to_the_verifier(idp):
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code", "client_id": DASHBOARD[0], "redirect_uri": DASHBOARD_REDIRECT,
        "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256",
    }
    code = authorize(idp, params, {"username": "bob"})["code"]
    exchange = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": DASHBOARD_REDIRECT}
    token_url = f"{idp.issuer}/token"

    wrong = requests.post(token_url, data={**exchange, "code_verifier": pkce_pair()[0]},
                          auth=DASHBOARD, timeout=TIMEOUT)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    bad_secret = requests.post(token_url, data={**exchange, "code_verifier": verifier},
                               auth=(DASHBOARD[0], "wrong"), timeout=TIMEOUT)
    assert bad_secret.status_code == 401

    ok = requests.post(token_url, data={**exchange, "code_verifier": verifier},
                       auth=DASHBOARD, timeout=TIMEOUT)
    assert ok.status_code == 200
    assert validate(ok.json()["access_token"], idp)["sub"] == idp.users["bob"]["sub"]
    again = requests.post(token_url, data={**exchange, "code_verifier": verifier},
                          auth=DASHBOARD, timeout=TIMEOUT)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_client_secret_post_is_accepted(idp):
    params = {"response_type": "code", "client_id": DASHBOARD[0],
              "redirect_uri": DASHBOARD_REDIRECT, "scope": "openid email"}
    code = authorize(idp, params, {"username": "carol"})["code"]
    response = requests.post(
        f"{idp.issuer}/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": DASHBOARD_REDIRECT,
              "client_id": DASHBOARD[0], "client_secret": DASHBOARD[1]},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    assert validate(response.json()["access_token"], idp)["sub"] == idp.users["carol"]["sub"]


def test_public_cli_client_must_use_pkce_on_any_loopback_port(idp):
    redirect_uri = "http://127.0.0.1:54321/callback"
    base = {"response_type": "code", "client_id": CLI, "redirect_uri": redirect_uri,
            "scope": "openid eduperson_entitlement", "state": "s"}
    without = requests.get(f"{idp.issuer}/authorize", params=base, allow_redirects=False,
                           timeout=TIMEOUT)
    assert without.status_code == 302
    error = dict(parse_qsl(urlsplit(without.headers["Location"]).query))
    assert error["error"] == "invalid_request"

    verifier, challenge = pkce_pair()
    code = authorize(idp, {**base, "code_challenge": challenge, "code_challenge_method": "S256"},
                     {"username": "admin"})["code"]
    response = requests.post(
        f"{idp.issuer}/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
              "client_id": CLI, "code_verifier": verifier},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    assert validate(response.json()["access_token"], idp)["eduperson_entitlement"] == (
        idp.users["admin"]["entitlements"]
    )


def test_unregistered_redirect_uri_is_refused_without_redirecting(idp):
    response = requests.get(
        f"{idp.issuer}/authorize",
        params={"response_type": "code", "client_id": DASHBOARD[0],
                "redirect_uri": "http://evil.example/cb", "scope": "openid"},
        allow_redirects=False, timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_denying_the_request_redirects_with_access_denied(idp):
    params = {"response_type": "code", "client_id": DASHBOARD[0],
              "redirect_uri": DASHBOARD_REDIRECT, "scope": "openid", "state": "xyz"}
    redirect = authorize(idp, params, {"deny": "1"})
    assert redirect["error"] == "access_denied" and redirect["state"] == "xyz"
    assert "code" not in redirect


def test_refresh_token_grant_rotates_the_refresh_token(idp):
    tokens, _ = dashboard_login(idp, "openid email eduperson_entitlement offline_access", "bob")
    assert tokens["refresh_token"]
    token_url = f"{idp.issuer}/token"
    refreshed = requests.post(
        token_url, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=DASHBOARD, timeout=TIMEOUT,
    )
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["access_token"] != tokens["access_token"]
    claims = validate(new["access_token"], idp)
    assert claims["sub"] == idp.users["bob"]["sub"]
    assert claims["eduperson_entitlement"] == idp.users["bob"]["entitlements"]
    assert validate(new["id_token"], idp, audience=DASHBOARD[0])["sub"] == claims["sub"]
    assert new["refresh_token"] and new["refresh_token"] != tokens["refresh_token"]

    reused = requests.post(
        token_url, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=DASHBOARD, timeout=TIMEOUT,
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    again = requests.post(
        token_url, data={"grant_type": "refresh_token", "refresh_token": new["refresh_token"]},
        auth=DASHBOARD, timeout=TIMEOUT,
    )
    assert again.status_code == 200


# -- key rotation --------------------------------------------------------------------


def test_key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(idp):
    old_token = idp.token("sub-rotate", entitlements=[USERS])
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    # A relying party that fetched the JWKS before the rotation.
    cached = jwt.PyJWKClient(idp.jwks_uri, timeout=TIMEOUT, cooldown_duration=0)
    assert cached.get_signing_key(old_kid).key_id == old_kid

    new_kid = idp.rotate_keys()
    assert new_kid != old_kid
    kids = [key["kid"] for key in requests.get(idp.jwks_uri, timeout=TIMEOUT).json()["keys"]]
    assert {old_kid, new_kid} <= set(kids)

    assert validate(old_token, idp)["sub"] == "sub-rotate"
    new_token = idp.token("sub-rotate", entitlements=[USERS])
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert validate(new_token, idp)["sub"] == "sub-rotate"
    # The cached client learns the new kid by refetching the JWKS.
    assert cached.get_signing_key_from_jwt(new_token).key_id == new_kid
    assert jwt.get_unverified_header(idp.user_token("alice"))["kid"] == new_kid


# -- process behaviour ---------------------------------------------------------------


def test_concurrent_requests_are_served(idp):
    def round_trip(i: int) -> str:
        token = idp.token(f"sub-{i}", entitlements=[USERS], opaque=bool(i % 2))
        return userinfo(idp, token).json()["sub"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        subs = list(pool.map(round_trip, range(64)))
    assert subs == [f"sub-{i}" for i in range(64)]


def test_process_prints_ready_line_and_exits_cleanly_on_sigterm(tmp_path):
    log = tmp_path / "idp.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.idp", "--host", "127.0.0.1", "--port", "0",
             "--issuer", "http://idp.test:9999/"],
            cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while "ready at" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        assert "sandbox identity provider ready at http://idp.test:9999\n" in log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_start_idp_reports_the_provider_output_when_it_cannot_start(tmp_path):
    with pytest.raises(SandboxIdpError, match="does-not-exist.json"):
        with start_idp(users_file=tmp_path / "does-not-exist.json", timeout=20):
            pass
