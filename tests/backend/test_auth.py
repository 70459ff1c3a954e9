"""Bearer tokens are validated like a real identity provider's: keys, issuer, expiry, userinfo."""

import json
import time

import pytest

from factories import API, USERS_GROUP
from sandbox.idp.launcher import start_idp


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def make_client(app_env, **overrides):
    from drift_backend import create_app
    from drift_backend.settings import Settings

    return create_app(Settings.from_environ({**app_env, **overrides})).test_client()


def test_a_valid_token_is_accepted(client, idp):
    token = idp.token("sub-1", email="one@example.org", entitlements=[USERS_GROUP])

    response = client.get(f"{API}/entitlement", headers=bearer(token))

    assert response.status_code == 200
    assert response.json["items"] == [USERS_GROUP]


def test_a_token_exchanged_from_a_mytoken_is_accepted(client, idp):
    response = client.post(f"{API}/user", headers=bearer(idp.user_token("alice")))

    assert response.status_code == 201
    assert response.json["email"] == idp.users["alice"]["email"]


@pytest.mark.parametrize(
    "token_options, reason",
    [
        ({"expires_in": -60}, "expired"),
        ({"not_before_in": 600}, "not valid yet"),
    ],
)
def test_expired_or_early_tokens_are_401_with_a_challenge(client, idp, token_options, reason):
    token = idp.token("sub-2", email="two@example.org", **token_options)

    response = client.get(f"{API}/entitlement", headers=bearer(token))

    assert response.status_code == 401
    assert reason in response.json["message"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer") and 'error="invalid_token"' in challenge


def test_a_tampered_token_is_401(client, idp):
    header, payload, signature = idp.token("sub-3").split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"

    response = client.get(f"{API}/entitlement", headers=bearer(forged))

    assert response.status_code == 401


def test_a_token_of_an_untrusted_issuer_is_401(app_env, idp):
    token = idp.token("sub-4")
    client = make_client(app_env, APP_TRUSTED_OP_LIST='["https://issuer.example.org"]')

    response = client.get(f"{API}/entitlement", headers=bearer(token))

    assert response.status_code == 401
    assert "not accepted" in response.json["message"]


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token-without-scheme"])
def test_malformed_authorization_headers_are_401(client, header):
    response = client.get(f"{API}/entitlement", headers={"Authorization": header})

    assert response.status_code == 401
    assert "Bearer" in response.json["message"]


def test_garbage_tokens_are_401(client):
    response = client.get(f"{API}/entitlement", headers=bearer("not-a-token-of-anyone"))

    assert response.status_code == 401


def test_opaque_tokens_are_resolved_through_userinfo(app_env, idp):
    client = make_client(app_env, APP_OPAQUE_TOKEN_ISSUERS=json.dumps([idp.issuer]))
    token = idp.token("sub-5", email="five@example.org", entitlements=[USERS_GROUP, "urn:x"], opaque=True)
    assert token.count(".") != 2  # not a JWT

    response = client.post(f"{API}/user", headers=bearer(token))

    assert response.status_code == 201
    assert response.json["subject"] == "sub-5"
    assert client.get(f"{API}/entitlement", headers=bearer(token)).json["items"] == sorted([USERS_GROUP, "urn:x"])


def test_audience_is_enforced_when_configured(app_env, idp):
    client = make_client(app_env, APP_TOKEN_AUDIENCE="drift-monitor-api")
    right = idp.token("sub-6", audience="drift-monitor-api")
    wrong = idp.token("sub-6", audience="another-service")

    assert client.get(f"{API}/entitlement", headers=bearer(right)).status_code == 200
    response = client.get(f"{API}/entitlement", headers=bearer(wrong))
    assert response.status_code == 401
    assert "audience" in response.json["message"]
    assert "drift-monitor-api" not in response.json["message"]  # no hint at what would be accepted


def test_entitlements_are_read_at_the_configured_path(app_env, idp):
    client = make_client(app_env, APP_ENTITLEMENTS_PATH="realm_access/roles")
    # The sandbox provider puts entitlements at `eduperson_entitlement`; a path that does not
    # exist yields no entitlements rather than an error.
    token = idp.token("sub-7", entitlements=[USERS_GROUP])

    response = client.get(f"{API}/entitlement", headers=bearer(token))

    assert response.status_code == 200
    assert response.json["items"] == []


def test_rotated_signing_keys_are_fetched_on_an_unknown_kid(app_env):
    with start_idp() as provider:
        client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([provider.issuer]))
        before = provider.token("sub-8")
        assert client.get(f"{API}/entitlement", headers=bearer(before)).status_code == 200

        provider.rotate_keys()
        time.sleep(2.1)  # the backend refetches keys for an unknown kid at most every 2 s
        after = provider.token("sub-8")

        assert client.get(f"{API}/entitlement", headers=bearer(after)).status_code == 200
        assert client.get(f"{API}/entitlement", headers=bearer(before)).status_code == 200


def test_a_known_token_needs_no_call_to_the_identity_provider(app_env):
    with start_idp() as provider:
        client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([provider.issuer]))
        known = provider.token("sub-9", entitlements=[USERS_GROUP])
        unknown = provider.token("sub-10")
        assert client.get(f"{API}/entitlement", headers=bearer(known)).status_code == 200

    # The provider is gone: the known token still works from the cache…
    assert client.get(f"{API}/entitlement", headers=bearer(known)).json["items"] == [USERS_GROUP]
    # …while a new one cannot be checked, which is the provider's outage, not the caller's fault.
    response = client.get(f"{API}/entitlement", headers=bearer(unknown))
    assert response.status_code == 503
    assert "identity provider is unavailable" in response.json["message"]


@pytest.mark.parametrize(
    "claims, path, expected",
    [
        ({"realm_access": {"roles": ["a", "b"]}}, "realm_access/roles", ["a", "b"]),
        ({"groups": "single"}, "groups", ["single"]),
        ({"groups": ["a", 3, None]}, "groups", ["a"]),
        ({"realm_access": "not-an-object"}, "realm_access/roles", []),
    ],
)
def test_claim_paths_walk_nested_claims(claims, path, expected):
    from drift_backend.extensions.auth import _claim_at_path

    assert _claim_at_path(claims, path) == expected
