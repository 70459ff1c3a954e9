"""Security issue 11, tokens: each attack performed with real tokens of sandbox identity providers.

A relying party replaying its users' tokens here (audience), a weaker second issuer asserting the
administrator entitlement, opaque tokens sprayed at every issuer, and 503s that tell hosts away.
"""

import json

import pytest

from factories import ADMINS_GROUP, API, USERS_GROUP
from sandbox.idp.launcher import start_idp


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def make_client(app_env, **overrides):
    from drift_backend import create_app
    from drift_backend.settings import Settings

    return create_app(Settings.from_environ({**app_env, **overrides})).test_client()


def entitlements(client, token):
    response = client.get(f"{API}/entitlement", headers=bearer(token))
    return response.status_code, response.json


# --- Audience --------------------------------------------------------------------------------------


@pytest.mark.parametrize("claims, accepted", [
    ({"audience": "drift-monitor"}, True),
    ({"audience": ["other-api", "drift-monitor"]}, True),
    # A token of another client of the same provider that names us as its authorised party.
    ({"audience": "other-api", "client_id": "drift-monitor"}, True),
    # The replay: a token the provider issued to another relying party.
    ({"audience": "other-api"}, False),
    ({"audience": "other-api", "client_id": "other-client"}, False),
])
def test_only_tokens_meant_for_this_api_are_accepted(client, idp, claims, accepted):
    status, body = entitlements(client, idp.token("sub-aud", entitlements=[USERS_GROUP], **claims))

    assert status == (200 if accepted else 401), body
    if not accepted:
        assert "audience" in body["message"]


def test_several_audiences_may_be_configured(app_env, idp):
    client = make_client(app_env, APP_TOKEN_AUDIENCE='["drift-monitor", "drift-monitor-dashboard"]')

    assert entitlements(client, idp.token("sub-a", audience="drift-monitor-dashboard"))[0] == 200
    assert entitlements(client, idp.token("sub-a", audience="other-api"))[0] == 401


def test_audiences_may_be_comma_separated(app_env, idp):
    client = make_client(app_env, APP_TOKEN_AUDIENCE="drift-monitor, drift-monitor-dashboard")

    assert entitlements(client, idp.token("sub-a", audience="drift-monitor-dashboard"))[0] == 200
    assert entitlements(client, idp.token("sub-a", audience="drift-monitor"))[0] == 200
    assert entitlements(client, idp.token("sub-a", audience="other-api"))[0] == 401


def test_development_without_an_audience_accepts_any(app_env, idp):
    client = make_client(app_env, APP_TOKEN_AUDIENCE="")

    assert entitlements(client, idp.token("sub-a", audience="other-api"))[0] == 200


def test_production_refuses_to_start_without_an_audience_or_with_http_issuers(app_env):
    from drift_backend.settings import Settings, SettingsError

    production = {**app_env, "APP_ENVIRONMENT": "production",
                  "APP_TRUSTED_OP_LIST": json.dumps(["https://aai.example.org/realm"])}
    with pytest.raises(SettingsError, match="APP_TOKEN_AUDIENCE"):
        Settings.from_environ({**production, "APP_TOKEN_AUDIENCE": ""})
    for plain in (["http://idp.example.org"], ["https://aai.example.org/realm", "HTTP://idp.example.org"]):
        with pytest.raises(SettingsError, match="http://"):
            Settings.from_environ({**production, "APP_TRUSTED_OP_LIST": json.dumps(plain)})
    # The default is production: forgetting APP_ENVIRONMENT is not a way around the checks.
    without = {k: v for k, v in production.items() if k not in ("APP_ENVIRONMENT", "APP_TOKEN_AUDIENCE")}
    with pytest.raises(SettingsError, match="APP_TOKEN_AUDIENCE"):
        Settings.from_environ(without)
    assert Settings.from_environ(production).environment == "production"


# --- Entitlements bound to their issuer ------------------------------------------------------------


@pytest.fixture
def weaker_idp():
    with start_idp() as provider:
        yield provider


def test_a_second_issuer_cannot_assert_administrator_or_group_entitlements(app_env, idp, weaker_idp):
    both = json.dumps([idp.issuer, weaker_idp.issuer])
    client = make_client(app_env, APP_TRUSTED_OP_LIST=both, APP_USERS_ENTITLEMENTS=json.dumps([USERS_GROUP]))
    # The attacker controls the weaker issuer and mints the administrators' entitlement for herself.
    forged = weaker_idp.token("mallory", email="m@example.org", entitlements=[USERS_GROUP, ADMINS_GROUP])

    status, body = entitlements(client, forged)
    assert status == 200 and body["items"] == []
    # Registration needs the users' entitlement, which the weaker issuer cannot grant either.
    assert client.post(f"{API}/user", headers=bearer(forged)).status_code == 403
    assert client.post(f"{API}/user/search", json={}, headers=bearer(forged)).status_code == 403
    # The first issuer's entitlements still count.
    genuine = idp.token("root", email="r@example.org", entitlements=[USERS_GROUP, ADMINS_GROUP])
    assert client.post(f"{API}/user", headers=bearer(genuine)).status_code == 201
    assert client.post(f"{API}/user/search", json={}, headers=bearer(genuine)).status_code == 200


def test_a_group_grant_is_not_reached_through_another_issuer(app_env, idp, weaker_idp):
    client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([idp.issuer, weaker_idp.issuer]))
    owner = idp.token("owner", email="o@example.org", entitlements=[USERS_GROUP])
    assert client.post(f"{API}/user", headers=bearer(owner)).status_code == 201
    experiment = client.post(f"{API}/experiment", headers=bearer(owner), json={
        "name": "team-only", "permissions": [{"entity": "urn:example:team", "level": "Read"}]}).json
    member = idp.token("member", email="mem@example.org", entitlements=[USERS_GROUP, "urn:example:team"])
    outsider = weaker_idp.token("member", email="x@example.org", entitlements=["urn:example:team"])

    assert client.get(f"{API}/experiment/{experiment['id']}", headers=bearer(member)).status_code == 200
    assert client.get(f"{API}/experiment/{experiment['id']}", headers=bearer(outsider)).status_code in (403, 404)


def test_entitlement_issuers_can_be_widened_explicitly(app_env, idp, weaker_idp):
    both = json.dumps([idp.issuer, weaker_idp.issuer])
    client = make_client(app_env, APP_TRUSTED_OP_LIST=both, APP_ENTITLEMENT_ISSUERS=both)

    status, body = entitlements(client, weaker_idp.token("partner", entitlements=[USERS_GROUP]))

    assert status == 200 and body["items"] == [USERS_GROUP]


def test_entitlement_issuers_must_be_trusted(app_env):
    from drift_backend.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="APP_ENTITLEMENT_ISSUERS"):
        Settings.from_environ({**app_env, "APP_ENTITLEMENT_ISSUERS": '["https://untrusted.example.org"]'})


# --- Opaque tokens ---------------------------------------------------------------------------------


def test_an_opaque_token_is_sent_to_no_issuer_unless_configured(client, idp):
    # The provider would accept it: before, the backend asked every issuer's userinfo and let it in.
    token = idp.token("sub-opaque", entitlements=[USERS_GROUP], opaque=True)

    status, body = entitlements(client, token)

    assert status == 401 and "opaque" in body["message"]


def test_no_opaque_issuer_means_no_outbound_call(app_env):
    with start_idp() as provider:
        client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([provider.issuer]))
        token = provider.token("sub-opaque", entitlements=[USERS_GROUP], opaque=True)
        before = provider.requests_received()

        status, body = entitlements(client, token)

        assert status == 401 and "opaque" in body["message"]
        after = provider.requests_received()
        # Nothing at all reached the provider in between, only this test's own counting call.
        assert {path: count - before.get(path, 0) for path, count in after.items()
                if count != before.get(path, 0)} == {"/sandbox/requests": 1}


def test_an_opaque_token_is_shown_only_to_the_issuer_configured_for_it(app_env):
    with start_idp() as first, start_idp() as opaque_issuer:
        client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([first.issuer, opaque_issuer.issuer]),
                             APP_ENTITLEMENT_ISSUERS=json.dumps([first.issuer, opaque_issuer.issuer]),
                             APP_OPAQUE_TOKEN_ISSUERS=json.dumps([opaque_issuer.issuer]))
        accepted = opaque_issuer.token("sub-opaque", entitlements=[USERS_GROUP], opaque=True)
        # The first issuer would accept its own opaque token, but it is not configured to be asked.
        not_asked = first.token("sub-first", entitlements=[USERS_GROUP], opaque=True)

        assert entitlements(client, accepted) == (200, {"items": [USERS_GROUP]})
        assert entitlements(client, not_asked)[0] == 401

        assert first.requests_received("/userinfo") == 0
        assert opaque_issuer.requests_received("/userinfo") == 2


def test_repeated_junk_opaque_tokens_reach_the_issuer_once(app_env):
    with start_idp() as provider:
        client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([provider.issuer]),
                             APP_OPAQUE_TOKEN_ISSUERS=json.dumps([provider.issuer]))

        statuses = [entitlements(client, "junk-token")[0] for _ in range(5)]

        assert statuses == [401] * 5
        assert provider.requests_received("/userinfo") == 1
        assert entitlements(client, "other-junk")[0] == 401
        assert provider.requests_received("/userinfo") == 2


def test_an_accepted_opaque_token_is_not_reused_past_the_ttl(app_env):
    import time

    with start_idp() as provider:
        client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([provider.issuer]),
                             APP_OPAQUE_TOKEN_ISSUERS=json.dumps([provider.issuer]),
                             APP_OPAQUE_TOKEN_TTL_SECONDS="1")
        token = provider.token("sub-opaque", entitlements=[USERS_GROUP], opaque=True)

        assert [entitlements(client, token)[0] for _ in range(3)] == [200] * 3
        assert provider.requests_received("/userinfo") == 1  # the cache answered the others
        time.sleep(1.5)
        assert entitlements(client, token)[0] == 200
        assert provider.requests_received("/userinfo") == 2  # asked again: a revocation shows within the TTL


def test_the_opaque_token_ttl_is_short(app_env):
    from drift_backend.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="APP_OPAQUE_TOKEN_TTL_SECONDS"):
        Settings.from_environ({**app_env, "APP_OPAQUE_TOKEN_TTL_SECONDS": "3600"})


def test_a_jwt_identity_is_not_cached_past_its_expiry(app_env):
    import time

    with start_idp() as provider:
        client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([provider.issuer]))
        token = provider.token("sub-expiring", entitlements=[USERS_GROUP], expires_in=1)
        assert [entitlements(client, token)[0] for _ in range(2)] == [200, 200]
        assert provider.requests_received("/userinfo") == 1  # the second came from the cache

        time.sleep(1.5)

        # Past `exp` the cache is not consulted: the token is checked again and refused.
        assert entitlements(client, token)[0] == 401
        assert provider.requests_received("/userinfo") == 2


def test_an_opaque_token_goes_only_to_the_issuers_configured_for_it(app_env, idp):
    with start_idp() as other:
        other_issuer = other.issuer
    # `other` is gone: asking it would answer 503, so a 200 proves it was not asked.
    client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([other_issuer, idp.issuer]),
                         APP_ENTITLEMENT_ISSUERS=json.dumps([idp.issuer]),
                         APP_OPAQUE_TOKEN_ISSUERS=json.dumps([idp.issuer]))

    status, body = entitlements(client, idp.token("sub-opaque", entitlements=[USERS_GROUP], opaque=True))

    assert status == 200 and body["items"] == [USERS_GROUP]


def test_a_rejected_opaque_token_is_refused_from_memory(app_env):
    with start_idp() as provider:
        client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([provider.issuer]),
                             APP_OPAQUE_TOKEN_ISSUERS=json.dumps([provider.issuer]))
        assert entitlements(client, "junk-token")[0] == 401
    # The provider is gone: the same junk is still refused without asking it (no 503), while
    # new junk has to be asked about.
    assert entitlements(client, "junk-token")[0] == 401
    assert entitlements(client, "other-junk")[0] == 503


def test_an_opaque_token_is_not_accepted_after_it_expires(app_env, idp):
    import time

    # Userinfo does not tell when an opaque token expires: it is re-checked every TTL seconds.
    client = make_client(app_env, APP_OPAQUE_TOKEN_ISSUERS=json.dumps([idp.issuer]), APP_OPAQUE_TOKEN_TTL_SECONDS="1")
    token = idp.token("sub-short", entitlements=[USERS_GROUP], opaque=True, expires_in=2)
    assert entitlements(client, token)[0] == 200

    time.sleep(3)

    assert entitlements(client, token)[0] == 401


# --- Upstream details stay in the log --------------------------------------------------------------


def test_an_identity_provider_outage_answers_503_without_its_address(app_env, caplog):
    with start_idp() as provider:
        issuer = provider.issuer
        token = provider.token("sub-gone")
    client = make_client(app_env, APP_TRUSTED_OP_LIST=json.dumps([issuer]))

    response = client.get(f"{API}/entitlement", headers=bearer(token))

    assert response.status_code == 503
    host_port = issuer.split("//", 1)[1]
    assert host_port not in json.dumps(response.json) and "Connection" not in response.json["message"]
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert any(host_port in record.getMessage() for record in caplog.records)  # the operator sees it


def test_a_database_outage_answers_503_without_its_address(app_env, caplog):
    from sandbox.database import free_port

    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    client = make_client(app_env, APP_DATABASE_URI=f"mongodb://{address}/", APP_DATABASE_TIMEOUT_MS="300")

    response = client.post(f"{API}/experiment/search", json={})

    assert response.status_code == 503
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert address not in json.dumps(response.json) and "refused" not in json.dumps(response.json).lower()
    assert any(address in record.getMessage() for record in caplog.records)
