"""Database outage: answers are 503 JSON within seconds, and the API recovers by itself."""

import json
import time

import pytest
import requests

from factories import ADMINS_GROUP, API, USERS_GROUP
from sandbox.backend import start_backend
from sandbox.database import EmbeddedMongo

TIMEOUT_MS = 2000


@pytest.fixture
def own_database(tmp_path):
    """A database process of this test's own, so it can be killed and restarted on the same data."""
    server = EmbeddedMongo(storage_path=tmp_path / "data", log_path=tmp_path / "database.log", durable=True).start()
    yield server
    server.cleanup()


def test_database_outage_gives_fast_503_and_recovery_without_restart(own_database, idp):
    env = {
        "APP_DATABASE_URI": own_database.uri,
        "APP_TRUSTED_OP_LIST": json.dumps([idp.issuer]),
        "APP_ADMIN_ENTITLEMENTS": json.dumps([ADMINS_GROUP]),
        "APP_DATABASE_TIMEOUT_MS": str(TIMEOUT_MS),
        "APP_ENVIRONMENT": "development",  # the sandbox issuer is http://
    }
    headers = {"Authorization": f"Bearer {idp.token('outage-user', email='o@example.org', entitlements=[USERS_GROUP])}"}
    with start_backend(env, workers=1, threads=4) as base_url:
        assert requests.post(f"{base_url}{API}/user", headers=headers, timeout=10).status_code == 201
        experiment = requests.post(f"{base_url}{API}/experiment", json={"name": "survivor"}, headers=headers,
                                   timeout=10).json()
        url = f"{base_url}{API}/experiment/{experiment['id']}"

        own_database.stop(kill=True)
        started = time.monotonic()
        during = requests.get(url, headers=headers, timeout=30)
        elapsed = time.monotonic() - started
        health = requests.get(f"{base_url}/api/health", timeout=30)

        assert during.status_code == 503
        assert set(during.json()) == {"code", "status", "message", "errors"}
        assert elapsed < TIMEOUT_MS / 1000 + 3
        assert health.status_code == 503
        assert health.json() == {"status": "unavailable", "database": "unavailable"}

        own_database.start()
        deadline = time.monotonic() + 10
        while (after := requests.get(url, headers=headers, timeout=30)).status_code == 503:
            assert time.monotonic() < deadline, "the API did not recover within 10 s of the database"
            time.sleep(0.2)

        assert after.status_code == 200
        assert after.json()["name"] == "survivor"
        assert requests.get(f"{base_url}/api/health", timeout=10).json() == {"status": "ok", "database": "ok"}
