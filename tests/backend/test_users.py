"""Users: registration from the token, reading and refreshing oneself, administrators' search."""

import json

import pytest

from factories import API, USERS_GROUP


def test_registration_stores_the_token_identity(client, make_user, idp, db):
    user = make_user(register=False)

    response = client.post(f"{API}/user", headers=user.headers)

    assert response.status_code == 201
    body = response.json
    assert body["subject"] == user.sub
    assert body["issuer"] == idp.issuer
    assert body["email"] == user.email
    assert body["created_at"].endswith("Z")
    stored = db.users.find_one({"_id": body["id"]})
    assert (stored["issuer"], stored["subject"], stored["email"]) == (idp.issuer, user.sub, user.email)


def test_registering_twice_is_a_conflict_and_keeps_one_user(client, alice, db):
    response = client.post(f"{API}/user", headers=alice.headers)

    assert response.status_code == 409
    assert "already registered" in response.json["message"]
    assert db.users.count_documents({"subject": alice.sub}) == 1


def test_registration_needs_a_token(client):
    response = client.post(f"{API}/user")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_users_entitlements_restrict_registration(app_env, idp, make_user):
    from drift_backend import create_app
    from drift_backend.settings import Settings

    app_env["APP_USERS_ENTITLEMENTS"] = json.dumps([USERS_GROUP])
    client = create_app(Settings.from_environ(app_env)).test_client()
    outsider = idp.token("outsider", email="out@example.org", entitlements=["urn:example:other"])
    member = idp.token("member", email="member@example.org", entitlements=[USERS_GROUP])

    refused = client.post(f"{API}/user", headers={"Authorization": f"Bearer {outsider}"})
    accepted = client.post(f"{API}/user", headers={"Authorization": f"Bearer {member}"})

    assert refused.status_code == 403
    assert "entitlements" in refused.json["message"]
    assert accepted.status_code == 201


def test_self_is_readable_and_refreshed_from_a_new_token(client, alice, idp):
    assert client.get(f"{API}/user/self", headers=alice.headers).json["email"] == alice.email

    new_token = idp.token(alice.sub, email="alice.new@example.org", entitlements=[USERS_GROUP])
    refreshed = client.put(f"{API}/user/self", headers={"Authorization": f"Bearer {new_token}"})

    assert refreshed.status_code == 200
    assert refreshed.json["id"] == alice.id
    assert refreshed.json["email"] == "alice.new@example.org"
    assert client.get(f"{API}/user/self", headers=alice.headers).json["email"] == "alice.new@example.org"


@pytest.mark.parametrize("method", ["get", "put"])
def test_self_of_an_unregistered_token_is_forbidden(client, make_user, method):
    stranger = make_user(register=False)

    response = getattr(client, method)(f"{API}/user/self", headers=stranger.headers)

    assert response.status_code == 403
    assert "register" in response.json["message"]


def test_entitlements_list_what_the_token_carries(client, make_user):
    user = make_user(entitlements=["urn:b", "urn:a"], register=False)

    for path in ("entitlement", "entitlements"):  # the plural is what drift-monitor 1.1 calls
        response = client.get(f"{API}/{path}", headers=user.headers)
        assert response.status_code == 200
        assert response.json == {"items": ["urn:a", "urn:b"]}
    assert client.get(f"{API}/entitlement").status_code == 401


def test_admins_search_users_with_filters_and_pagination(client, admin, make_user):
    users = [make_user() for _ in range(3)]

    response = client.post(f"{API}/user/search?page_size=2&sort_by=email&order_by=asc", json={}, headers=admin.headers)
    assert response.status_code == 200
    assert len(response.json) == 2
    assert json.loads(response.headers["X-Pagination"])["total"] == 4

    one = client.post(f"{API}/user/search", json={"email": users[1].email}, headers=admin.headers)
    assert [user["subject"] for user in one.json] == [users[1].sub]


def test_user_search_is_for_admins_only(client, alice):
    assert client.post(f"{API}/user/search", json={}, headers=alice.headers).status_code == 403
    assert client.post(f"{API}/user/search", json={}).status_code == 401


def test_user_search_refuses_unknown_fields(client, admin):
    response = client.post(f"{API}/user/search", json={"password": "x"}, headers=admin.headers)

    assert response.status_code == 422
    assert "password" in response.json["message"]

