"""A database that refuses the service's credentials is an outage for callers (503), never a healthy service."""

from __future__ import annotations

import logging

import pytest

from drift_backend import create_app
from drift_backend.settings import Settings
from factories import API
from sandbox.backend import sandbox_app_env
from sandbox.database import EmbeddedMongo


@pytest.fixture(scope="module")
def locked_database():
    server = EmbeddedMongo(auth=True).start()
    yield server
    server.stop()
    server.cleanup()


@pytest.fixture
def locked_client(locked_database, idp):
    # No username or password: the server answers ping but refuses every read.
    app = create_app(Settings.from_environ(sandbox_app_env(locked_database.uri, "drifts-locked", idp.issuer,
                                                           APP_DATABASE_TIMEOUT_MS="2000")))
    yield app.test_client()
    app.extensions["mongo"].close()


def test_health_fails_when_the_database_refuses_the_credentials(locked_client):
    response = locked_client.get("/api/health")

    assert response.status_code == 503
    assert response.json["database"] == "unavailable"


def test_requests_answer_503_and_operators_see_why(locked_client, caplog):
    with caplog.at_level(logging.ERROR):
        response = locked_client.post(f"{API}/experiment/search", json={})

    assert response.status_code == 503
    assert response.json["message"] == "the database is unavailable; try again shortly"
    assert "refused the service's credentials" in caplog.text
