"""Fixtures shared by all tests.

Ladder: database server and identity provider (one process each per test session) →
a fresh database per test → the app → its HTTP client → users with tokens → experiments.
Everything is real: MongoDB wire protocol, tokens signed by the sandbox identity provider
and validated over HTTP.
"""

from __future__ import annotations

import uuid

import pymongo
import pytest

from factories import ADMINS_GROUP, API, USERS_GROUP, User, run_body
from sandbox.backend import sandbox_app_env
from sandbox.database import start_database
from sandbox.idp.launcher import SandboxIdp, start_idp


@pytest.fixture(scope="session")
def mongo_uri():
    with start_database() as (uri, _source):
        yield uri


@pytest.fixture(scope="session")
def idp() -> SandboxIdp:
    with start_idp() as provider:
        yield provider


@pytest.fixture
def database_name(mongo_uri):
    name = f"test-{uuid.uuid4().hex[:16]}"
    yield name
    with pymongo.MongoClient(mongo_uri) as client:
        client.drop_database(name)


@pytest.fixture
def app_env(mongo_uri, idp, database_name) -> dict[str, str]:
    """The APP_* environment a deployment would set, pointing at this test's database."""
    return sandbox_app_env(mongo_uri, database_name, idp.issuer, APP_DATABASE_TIMEOUT_MS="2000")


@pytest.fixture
def app(app_env):
    from drift_backend import create_app
    from drift_backend.settings import Settings

    application = create_app(Settings.from_environ(app_env))
    yield application
    application.extensions["mongo"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(mongo_uri, database_name):
    """Direct access to the test database, to check what is really stored."""
    with pymongo.MongoClient(mongo_uri, tz_aware=True) as mongo:
        yield mongo[database_name]


@pytest.fixture
def make_user(client, idp):
    """make_user(entitlements=..., register=True) → a User with a fresh sandbox token."""

    def make(entitlements=(USERS_GROUP,), register: bool = True, **token_options) -> User:
        sub = str(uuid.uuid4())
        email = f"{sub[:8]}@example.org"
        user = User(sub=sub, email=email, token=idp.token(sub, email=email, entitlements=entitlements, **token_options))
        if register:
            response = client.post(f"{API}/user", headers=user.headers)
            assert response.status_code == 201, response.json
            user.id = response.json["id"]
        return user

    return make


@pytest.fixture
def alice(make_user):
    return make_user()


@pytest.fixture
def admin(make_user):
    return make_user(entitlements=(USERS_GROUP, ADMINS_GROUP))


@pytest.fixture
def make_experiment(client):
    """make_experiment(owner, public=False, permissions=[]) → the created experiment as JSON."""

    def make(owner: User, public: bool = False, permissions=(), name: str | None = None) -> dict:
        body = {
            "name": name or f"experiment-{uuid.uuid4().hex[:8]}",
            "description": "made by a test",
            "public": public,
            "permissions": list(permissions),
        }
        response = client.post(f"{API}/experiment", json=body, headers=owner.headers)
        assert response.status_code == 201, response.json
        return response.json

    return make


@pytest.fixture
def make_run(client):
    def make(owner: User, experiment: dict, **overrides) -> dict:
        response = client.post(f"{API}/experiment/{experiment['id']}/drift", json=run_body(**overrides),
                               headers=owner.headers)
        assert response.status_code == 201, response.json
        return response.json

    return make
