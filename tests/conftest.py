"""Fixtures shared by all tests, and the markers every test gets.

Ladder: database server and identity provider (one process each per test session) →
a fresh database per test → the app → its HTTP client → users with tokens → experiments.
Beside it, the live backend: the API under gunicorn, one per test module (`backend_url`) or one
per test process for the detector tests (`detector_backend`). Everything is real: MongoDB wire
protocol, tokens signed by the sandbox identity provider and validated over HTTP.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import drift_monitor
import pymongo
import pytest
from markers import derived_markers

from factories import ADMINS_GROUP, API, USERS_GROUP, User, run_body
from sandbox.backend import sandbox_app_env, start_backend
from sandbox.database import start_database
from sandbox.idp.launcher import SandboxIdp, start_idp

TESTS = Path(__file__).resolve().parent

# --- markers --------------------------------------------------------------------------------------------------


# tryfirst: before pytest's own hook deselects by `-m`, which must see these markers.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """unit / integration / browser on every test (rules in markers.py), so test files need not say them."""
    for item in items:
        path = Path(item.path).resolve()
        parts = path.relative_to(TESTS).parts if TESTS in path.parents else ()
        folder = parts[0] if len(parts) > 1 else ""
        own = {mark.name for mark in item.iter_markers()}
        for name in sorted(derived_markers(folder, getattr(item, "fixturenames", ()), own)):
            item.add_marker(name)


# --- servers and databases ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mongo_uri():
    with start_database() as (uri, _source):
        yield uri


@pytest.fixture(scope="session")
def idp() -> SandboxIdp:
    with start_idp() as provider:
        yield provider


@contextmanager
def scratch_database(mongo_uri: str, prefix: str = "test") -> Iterator[str]:
    """A unique database name, the database dropped afterwards."""
    name = f"{prefix}-{uuid.uuid4().hex[:16]}"
    try:
        yield name
    finally:
        with pymongo.MongoClient(mongo_uri) as client:
            client.drop_database(name)


@pytest.fixture
def database_name(mongo_uri):
    with scratch_database(mongo_uri) as name:
        yield name


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


# --- the live backend: the API under gunicorn, as clients reach it --------------------------------------------


@contextmanager
def live_backend(mongo_uri: str, idp: SandboxIdp, database_name: str) -> Iterator[str]:
    """Serve the API (1 gunicorn worker, 8 threads) on ``database_name``, trusting ``idp``; yield its URL."""
    app_env = sandbox_app_env(mongo_uri, database_name, idp.issuer, APP_DATABASE_TIMEOUT_MS="2000")
    with start_backend(app_env, workers=1, threads=8) as url:
        yield url


@pytest.fixture(scope="module")
def backend_database_name(mongo_uri):
    """The database `backend_url` serves, shared by the tests of a module."""
    with scratch_database(mongo_uri, "test-live") as name:
        yield name


@pytest.fixture(scope="module")
def backend_url(mongo_uri, idp, backend_database_name) -> str:
    """The API under gunicorn, one per test module (it is expensive to start): tests create their own users
    and uniquely named experiments."""
    with live_backend(mongo_uri, idp, backend_database_name) as url:
        yield url


@pytest.fixture(scope="session")
def detector_backend(mongo_uri, idp):
    """The API under gunicorn on a database of its own, one per test process (the detector tests share it)."""
    with scratch_database(mongo_uri, "test-detector") as name, live_backend(mongo_uri, idp, name) as url:
        yield url


# --- the environment ------------------------------------------------------------------------------------------

#: Settings of the client (DRIFT_MONITOR_*, MYTOKEN_SERVER), the detector and the server that a developer's
#: shell may hold; no test sees them unless it sets them itself.
LEAKY_VARIABLE_PREFIXES = ("DRIFT_MONITOR_", "DETECTOR_", "APP_")
LEAKY_VARIABLES = frozenset({"MYTOKEN_SERVER"})


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Nothing of the developer's shell leaks into a test; each test has its own client spool and no
    cached default client."""
    for variable in list(os.environ):
        if variable.startswith(LEAKY_VARIABLE_PREFIXES) or variable in LEAKY_VARIABLES:
            monkeypatch.delenv(variable)
    monkeypatch.setenv("DRIFT_MONITOR_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setattr(drift_monitor._api, "_default_client", None)


# --- users, experiments and runs through the app's test client -------------------------------------------------


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
