"""Tokens: MyToken exchange against the sandbox provider, renewal after 401 or expiry, plain tokens."""

from __future__ import annotations

import time
import uuid

import drift_monitor
import pytest
from drift_monitor import AuthenticationError, Client, DriftMonitor
from drift_monitor._auth import MyTokenAuth, jwt_expiry

from factories import USERS_GROUP


@pytest.fixture
def mytoken_env(monkeypatch, idp, backend_url):
    monkeypatch.setenv("DRIFT_MONITOR_URL", backend_url)
    monkeypatch.setenv("MYTOKEN_SERVER", idp.issuer)
    monkeypatch.setenv("DRIFT_MONITOR_MYTOKEN", idp.mytoken("alice"))


@pytest.fixture
def exchanges(monkeypatch):
    """Counts the MyToken exchanges (the real ones still happen)."""
    calls = []
    original = MyTokenAuth._exchange

    def counting(self):
        calls.append(time.time())
        return original(self)

    monkeypatch.setattr(MyTokenAuth, "_exchange", counting)
    return calls


def test_mytoken_exchange_and_caching(mytoken_env, exchanges, db):
    drift_monitor.register(accept_terms=True)
    me = drift_monitor.default_client().get_self()
    assert "urn:example:drift-monitor:team-a" in drift_monitor.default_client().entitlements()
    name = f"mt-{uuid.uuid4().hex[:8]}"
    drift_monitor.new_experiment(name, "by alice")
    with DriftMonitor(name, "model-1") as monitor:
        monitor.concept(False, {})
    assert db.drifts.find_one({"_id": monitor.run_id})["job_status"] == "Completed"
    assert me.subject
    assert len(exchanges) == 1  # one exchange for all those calls


def test_mytoken_is_exchanged_again_after_a_401(mytoken_env, exchanges, idp):
    client = drift_monitor.default_client()
    drift_monitor.register(accept_terms=True)
    auth = client._token_source()
    # The cached token expired early (e.g. revoked): the API answers 401, the client exchanges again once.
    auth._token = idp.token("alice-sub", entitlements=[USERS_GROUP], expires_in=-30)
    auth._renew_at = time.time() + 3600
    assert client.get_self().email
    assert len(exchanges) == 2


def test_mytoken_is_exchanged_again_shortly_before_expiry(mytoken_env, exchanges):
    client = drift_monitor.default_client()
    drift_monitor.register(accept_terms=True)
    auth = client._token_source()
    assert auth._renew_at < jwt_expiry(auth._token)
    auth._renew_at = time.time() - 1  # as if the token were about to expire
    client.get_self()
    assert len(exchanges) == 2


def test_unknown_mytoken_says_what_to_do(monkeypatch, idp, backend_url):
    client = Client(url=backend_url, mytoken="not-a-mytoken", mytoken_server=idp.issuer)
    with pytest.raises(AuthenticationError, match="DRIFT_MONITOR_MYTOKEN"):
        client.get_self()


def test_plain_token_mode_and_no_retry_on_401(backend_url, idp):
    sub = str(uuid.uuid4())
    client = Client(url=backend_url, token=idp.token(sub, entitlements=[USERS_GROUP]))
    assert client.register()["subject"] == sub
    expired = Client(url=backend_url, token=idp.token(sub, entitlements=[USERS_GROUP], expires_in=-30))
    with pytest.raises(AuthenticationError) as raised:
        expired.get_self()
    assert raised.value.status == 401


def test_jwt_expiry_reads_exp_without_verification(idp):
    token = idp.token("x", expires_in=120)
    assert abs(jwt_expiry(token) - (time.time() + 120)) < 30
    assert jwt_expiry("opaque-token-value") is None
    assert jwt_expiry("a.b.c") is None
