"""The client's contract: what is sent again after a failure, `fail`, order-free results, one run per
monitor, the version, and what stays private.

The retry tests put a proxy in front of the module's live backend that forwards each request (so the
backend does the work) and then replaces the answer with a 502, as a gateway that timed out would.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
import uuid
from pathlib import Path

import drift_monitor
import pytest
from client_support import NO_RETRY
from drift_monitor import DEFAULT_RETRY, Client, DriftMonitor, IdempotentRetry, ServerError
from drift_monitor._retry import is_safe_to_repeat, safe_to_repeat
from drift_monitor._version import UNKNOWN_VERSION, installed_version
from urllib3.exceptions import NewConnectionError, ProtocolError
from urllib3.util import Retry

from sandbox.database import free_port

PYPROJECT = Path(__file__).resolve().parents[2] / "client" / "pyproject.toml"


@pytest.fixture
def gateway(proxy):
    """The conftest's proxy, used here for answers that come after the work (`fail_after_work`) or 429s."""
    return proxy


@pytest.fixture
def behind_gateway(gateway, user_token, spool_dir, api) -> Client:
    """The registered user of `api`, through the gateway, with the default retry policy."""
    client = Client(url=gateway.url, token=user_token, spool_dir=spool_dir)
    yield client
    client.close()


# --- retries: which requests are sent again -----------------------------------------------------------


def test_a_create_experiment_answered_502_after_storing_is_sent_once_and_says_so(gateway, behind_gateway, api):
    name = f"exp-{uuid.uuid4().hex[:10]}"
    gateway.fail_after_work = 1
    with pytest.raises(ServerError) as raised:
        behind_gateway.create_experiment(name, "behind a flaky gateway")
    assert raised.value.status == 502
    assert "not retried" in str(raised.value) and "may have done it" in str(raised.value)
    assert gateway.sent("POST", "/experiment") == [502]
    # The experiment was stored exactly once; a retry would have been answered 409 instead.
    assert [experiment.name for experiment in api.search_experiments({"name": name})] == [name]


def test_an_idempotent_get_is_retried_after_502s(gateway, behind_gateway, experiment):
    gateway.fail_after_work = 2
    assert behind_gateway.get_experiment(experiment)["id"] == experiment["id"]
    assert gateway.sent("GET", f"/experiment/{experiment['id']}") == [502, 502, 200]


def test_a_run_search_is_a_read_and_is_retried(gateway, behind_gateway, api, experiment):
    api.create_drift(experiment, model="m", job_status="Completed")
    gateway.fail_after_work = 1
    assert len(behind_gateway.get_drifts(experiment)) == 1
    assert gateway.sent("POST", "/drift/search") == [502, 200]


def test_a_drift_create_with_a_run_id_is_retried_and_stored_once(gateway, behind_gateway, experiment, db):
    run_id = str(uuid.uuid4())
    gateway.fail_after_work = 1
    created = behind_gateway.create_drift(experiment, model="m", run_id=run_id)
    assert created.id == run_id
    assert gateway.sent("POST", "/drift") == [502, 200]  # 200: the server's answer to a replay
    assert db.drifts.count_documents({"_id": run_id}) == 1


def test_a_drift_create_without_a_run_id_is_sent_once(gateway, behind_gateway, experiment, db):
    gateway.fail_after_work = 1
    with pytest.raises(ServerError, match="not retried"):
        behind_gateway.create_drift(experiment, model="m")
    assert gateway.sent("POST", "/drift") == [502]
    assert db.drifts.count_documents({"experiment_id": experiment["id"]}) == 1


def test_a_monitor_rides_out_a_502_after_its_create_without_spooling(gateway, behind_gateway, experiment, db):
    gateway.fail_after_work = 1
    with DriftMonitor(experiment, "model-1", client=behind_gateway) as monitor:
        monitor.data(False, {})
    assert not monitor.spooled
    assert db.drifts.find_one({"_id": monitor.run_id})["job_status"] == "Completed"


def test_429_is_retried_for_every_request(gateway, behind_gateway, api):
    name = f"exp-{uuid.uuid4().hex[:10]}"
    gateway.refuse_next = 1
    assert behind_gateway.create_experiment(name).name == name
    assert gateway.sent("POST", "/experiment") == [429, 201]


def test_a_retry_given_by_the_caller_is_applied_as_given(gateway, user_token, experiment, db, api):
    client = Client(url=gateway.url, token=user_token, retry=Retry(total=2, backoff_factor=0, allowed_methods=None,
                                                                   status_forcelist=(502,), raise_on_status=False))
    gateway.fail_after_work = 1
    with pytest.raises(drift_monitor.Conflict):  # what the default policy prevents
        client.create_experiment(f"exp-{uuid.uuid4().hex[:10]}")
    assert gateway.sent("POST", "/experiment") == [502, 409]


def test_a_request_may_declare_itself_safe_to_repeat(gateway, behind_gateway):
    gateway.fail_after_work = 1
    with pytest.raises(drift_monitor.Conflict):  # the caller's declaration, the caller's responsibility
        behind_gateway.request("POST", "/experiment", json_body={"name": f"exp-{uuid.uuid4().hex[:10]}"},
                               safe_to_repeat=True)
    assert gateway.sent("POST", "/experiment") == [502, 409]


SAFE_TO_REPEAT = [
    ("GET", "/experiment/abc", None, True),
    ("HEAD", "/experiment/abc", None, True),
    ("PUT", "/experiment/abc/drift/r1", {"job_status": "Completed"}, True),
    ("DELETE", "/experiment/abc", None, True),
    ("OPTIONS", "/experiment", None, True),
    ("post", "/experiment/search", {}, True),
    ("POST", "/experiment/abc/drift/search", {"model": "m"}, True),
    ("POST", "/experiment/abc/drift", {"id": "r1", "model": "m"}, True),
    ("POST", "/experiment/abc/drift", {"model": "m"}, False),
    ("POST", "/experiment/abc/drift", {"id": None, "model": "m"}, False),
    ("POST", "/experiment", {"name": "x"}, False),
    ("POST", "/user", {}, False),
    ("PATCH", "/experiment/abc", {"public": True}, False),
    ("PATCH", "/experiment/abc/drift/r1", {"tags": []}, False),
]


@pytest.mark.parametrize(("method", "path", "body", "safe"), SAFE_TO_REPEAT)
def test_which_requests_are_safe_to_repeat(method, path, body, safe):
    assert is_safe_to_repeat(method, path, body) is safe


def test_the_policy_decides_by_method_unless_the_request_says_otherwise():
    retry = IdempotentRetry(total=3, status_forcelist=(429, 502))
    assert retry.is_retry("GET", 502) and not retry.is_retry("POST", 502)
    assert retry.is_retry("POST", 429) and retry.is_retry("PATCH", 429)
    assert not retry.is_retry("GET", 500)  # not in the status list
    with safe_to_repeat(True):
        assert retry.is_retry("POST", 502)
    with safe_to_repeat(False):
        assert not retry.is_retry("GET", 502) and retry.is_retry("POST", 429)
    assert not retry.is_retry("POST", 502)  # the declaration ends with its block


def test_429_with_retry_after_is_retried_even_off_the_status_list():
    retry = IdempotentRetry(total=2, status_forcelist=(502,))
    assert retry.is_retry("POST", 429, has_retry_after=True)
    assert not retry.is_retry("POST", 429, has_retry_after=False)
    assert not IdempotentRetry(total=2, respect_retry_after_header=False).is_retry("POST", 429, True)


def test_connection_errors_are_retried_for_every_request_read_errors_only_when_safe():
    retry = IdempotentRetry(total=3, connect=3, read=3)
    refused = NewConnectionError(None, "refused")
    assert retry.increment("POST", "/x", error=refused).connect == 2
    dropped = ProtocolError("Connection aborted.")
    with pytest.raises(ProtocolError):
        retry.increment("POST", "/x", error=dropped)
    assert retry.increment("PUT", "/x", error=dropped).read == 2
    with safe_to_repeat(True):
        assert retry.increment("POST", "/x", error=dropped).read == 2


def test_the_default_policy_is_named_data():
    assert isinstance(DEFAULT_RETRY, IdempotentRetry)
    assert set(DEFAULT_RETRY.status_forcelist) == {429, 502, 503, 504}
    assert DEFAULT_RETRY.allowed_methods == frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
    assert DEFAULT_RETRY.read == 0  # a hanging server costs one read timeout, then the run is spooled
    # Each attempt's Retry (urllib3 copies it) keeps the policy.
    assert type(DEFAULT_RETRY.increment("GET", "/x", error=NewConnectionError(None, "refused"))) is IdempotentRetry


# --- monitor.fail ------------------------------------------------------------------------------------


def test_fail_marks_the_run_failed_with_the_reason_and_raises_nothing(api, experiment, db):
    with DriftMonitor(experiment, "model-1", client=api) as monitor:
        monitor.data(True, {"psi": 0.4})
        monitor.fail("the upstream table was empty")
        after_fail = True
    assert after_fail
    run = db.drifts.find_one({"_id": monitor.run_id})
    assert run["job_status"] == "Failed"
    assert run["parameters"] == {"error": "the upstream table was empty"}
    assert run["data_drift"] == {"drift": True, "parameters": {"psi": 0.4}}


def test_fail_keeps_its_reason_whatever_is_reported_after_it(api, experiment, db):
    with DriftMonitor(experiment, "model-1", client=api) as monitor:
        monitor.fail(KeyError("x1"))
        monitor(False, {"detector": "mine", "error": "overwritten"})
    run = db.drifts.find_one({"_id": monitor.run_id})
    assert run["job_status"] == "Failed"
    assert run["parameters"] == {"detector": "mine", "error": "KeyError: 'x1'"}


def test_fail_and_an_exception_mark_the_run_failed_and_the_exception_propagates(api, experiment, db):
    with pytest.raises(ZeroDivisionError):
        with DriftMonitor(experiment, "model-1", client=api) as monitor:
            monitor.fail("division")
            1 / 0
    run = db.drifts.find_one({"_id": monitor.run_id})
    assert (run["job_status"], run["parameters"]["error"]) == ("Failed", "division")


def test_fail_during_an_outage_is_spooled_and_synced_as_failed(user_token, api, experiment, spool_dir, db):
    offline = Client(url=f"http://127.0.0.1:{free_port()}", token=user_token, spool_dir=spool_dir, retry=NO_RETRY)
    with DriftMonitor(experiment, "model-1", client=offline) as monitor:
        monitor.fail("no data")
    assert monitor.spooled
    assert db.drifts.count_documents({"_id": monitor.run_id}) == 0
    assert drift_monitor.sync(client=api).uploaded == 2
    run = db.drifts.find_one({"_id": monitor.run_id})
    assert (run["job_status"], run["parameters"]) == ("Failed", {"error": "no data"})


def test_fail_outside_the_block_raises(api, experiment):
    monitor = DriftMonitor(experiment, "model-1", client=api)
    with pytest.raises(RuntimeError, match="inside its `with` block"):
        monitor.fail("too early")


# --- drift_detected does not depend on the order of calls ------------------------------------------


def _stored(db, run_id) -> dict:
    run = db.drifts.find_one({"_id": run_id})
    return {key: value for key, value in run.items() if key not in ("_id", "created_at", "updated_at")}


@pytest.mark.parametrize(("concept", "data"), [(True, False), (False, True), (False, False), (True, True)])
def test_data_then_concept_and_concept_then_data_store_the_same_run(api, experiment, db, concept, data):
    outcomes = []
    for order in (("data", "concept"), ("concept", "data")):
        with DriftMonitor(experiment, "model-1", client=api) as monitor:
            for kind in order:
                getattr(monitor, kind)(concept if kind == "concept" else data, {"kind": kind})
        outcomes.append((monitor.drift_detected, _stored(db, monitor.run_id)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] is (concept or data) is outcomes[0][1]["drift_detected"]


@pytest.mark.parametrize(("calls", "expected"), [
    ([("data", True), ("data", False)], False),  # the last result of a kind counts
    ([("data", False), ("data", True)], True),
    # With a concept or data result, the server derives drift_detected from the results alone.
    ([("overall", False), ("data", True)], True),
    ([("data", True), ("overall", False)], True),  # the 1.1 form no longer erases a detection
    ([("overall", True), ("concept", False)], False),
    ([("concept", False), ("overall", True)], False),
    ([("overall", True)], True),
    ([("concept", True), ("concept", False), ("data", False)], False),
])
def test_repeated_and_mixed_calls(api, experiment, db, calls, expected):
    with DriftMonitor(experiment, "model-1", client=api) as monitor:
        for kind, detected in calls:
            (monitor if kind == "overall" else getattr(monitor, kind))(detected, {})
        assert monitor.drift_detected is expected
    assert db.drifts.find_one({"_id": monitor.run_id})["drift_detected"] is expected


# --- one monitor, one run ---------------------------------------------------------------------------


def test_entering_a_used_monitor_again_raises_and_leaves_its_run_alone(api, experiment, db):
    monitor = DriftMonitor(experiment, "model-1", client=api)
    with monitor:
        monitor.data(True, {})
    first = _stored(db, monitor.run_id)
    with pytest.raises(RuntimeError, match="create a new DriftMonitor"):
        with monitor:
            pytest.fail("the block must not run")
    assert db.drifts.count_documents({"experiment_id": experiment["id"]}) == 1
    assert _stored(db, monitor.run_id) == first


def test_entering_a_monitor_inside_its_own_block_raises_without_a_second_run(api, experiment, db):
    with DriftMonitor(experiment, "model-1", client=api) as monitor:
        run_id = monitor.run_id
        with pytest.raises(RuntimeError, match="is reporting run .*create a new DriftMonitor"):
            monitor.__enter__()
        monitor.data(False, {"psi": 0.1})
    assert monitor.run_id == run_id
    assert db.drifts.count_documents({"experiment_id": experiment["id"]}) == 1
    assert db.drifts.find_one({"_id": run_id})["job_status"] == "Completed"


def test_a_monitor_whose_entry_failed_may_be_entered_again(api):
    monitor = DriftMonitor(f"missing-{uuid.uuid4().hex[:6]}", "model-1", client=api)
    for _ in range(2):  # nothing was started: the same error, not "already used"
        with pytest.raises(drift_monitor.ExperimentNotFound):
            monitor.__enter__()


# --- version and privacy -----------------------------------------------------------------------------


def test_the_version_comes_from_the_package_metadata_and_names_the_user_agent(gateway, behind_gateway, experiment):
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert drift_monitor.__version__ == importlib.metadata.version("drift-monitor") == declared
    behind_gateway.get_experiment(experiment)
    assert gateway.user_agents[-1] == f"drift-monitor/{declared}"


def test_an_uninstalled_package_reports_an_unknown_version():
    assert installed_version(f"not-installed-{uuid.uuid4().hex}") == UNKNOWN_VERSION == "0+unknown"


def test_the_spool_is_private():
    from drift_monitor import _settings, _spool

    assert _spool.__all__ == ["ReplayResult"]
    assert not hasattr(_spool, "OPERATIONS") and not hasattr(_spool, "FORMAT_VERSION")
    assert _settings.__all__ == ["Settings"]
    assert "Spool" not in drift_monitor.__all__ and "ReplayResult" in drift_monitor.__all__


def test_the_monitor_spool_attribute_is_deprecated(api, experiment, spool_dir):
    monitor = DriftMonitor(experiment, "model-1", client=api)
    with pytest.warns(DeprecationWarning, match="sync"):
        assert monitor.spool.directory == spool_dir
