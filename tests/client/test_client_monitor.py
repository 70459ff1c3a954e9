"""DriftMonitor against the real backend: what a `with` block stores."""

from __future__ import annotations

import uuid

import drift_monitor
import pytest
from drift_monitor import Client, DriftMonitor, ExperimentNotFound, PermissionDenied, ValidationError

np = pytest.importorskip("numpy")


class DetectorCrash(RuntimeError):
    pass


def test_with_block_stores_a_completed_run_with_both_results(api, experiment, db):
    with DriftMonitor(experiment["name"], "model-1", tags=["nightly"], client=api) as monitor:
        monitor.concept(True, {"p_value": np.float64(0.01), "features": np.array([1, 2])})
        monitor.data(False, {"psi": 0.02})
        assert db.drifts.find_one({"_id": monitor.run_id})["job_status"] == "Running"

    run = db.drifts.find_one({"_id": monitor.run_id})
    assert run["experiment_id"] == experiment["id"]
    assert run["job_status"] == "Completed"
    assert run["model"] == "model-1"
    assert run["concept_drift"] == {"drift": True, "parameters": {"p_value": 0.01, "features": [1, 2]}}
    assert run["data_drift"] == {"drift": False, "parameters": {"psi": 0.02}}
    assert run["drift_detected"] is True
    assert run["tags"] == ["nightly", "concept_drift", "data_drift"]
    assert not monitor.spooled


def test_single_call_form_of_1_1(api, experiment, db):
    with DriftMonitor(experiment_name=experiment["name"], model_id="model-2", client=api) as monitor:
        monitor(True, {"threshold": 0.5})
    run = db.drifts.find_one({"_id": monitor.run_id})
    assert (run["job_status"], run["drift_detected"], run["parameters"]) == ("Completed", True, {"threshold": 0.5})
    assert run["tags"] == []


def test_an_exception_in_the_block_marks_the_run_failed_and_propagates_unchanged(api, experiment, db):
    crash = DetectorCrash("detector broke")
    with pytest.raises(DetectorCrash) as raised:
        with DriftMonitor(experiment, "model-1", client=api) as monitor:
            monitor.data(True, {"psi": 0.4})
            raise crash
    assert raised.value is crash
    run = db.drifts.find_one({"_id": monitor.run_id})
    assert run["job_status"] == "Failed"
    assert run["data_drift"]["drift"] is True


def test_methods_outside_the_block_raise(api, experiment):
    monitor = DriftMonitor(experiment["name"], "model-1", client=api)
    with pytest.raises(RuntimeError, match="inside its `with` block"):
        monitor.concept(True, {})
    with monitor:
        pass
    for method in (monitor.concept, monitor.data, monitor):
        with pytest.raises(RuntimeError):
            method(True, {})


def test_unknown_experiment_raises_at_once_and_spools_nothing(api, spool_dir):
    with pytest.raises(ExperimentNotFound, match="new_experiment"):
        with DriftMonitor(f"missing-{uuid.uuid4().hex[:6]}", "model-1", client=api):
            pytest.fail("the block must not run")
    assert not spool_dir.exists() or not list(spool_dir.glob("*.json"))


def test_no_edit_permission_raises_permission_denied(backend_url, idp, experiment, api):
    other = Client(url=backend_url, token=idp.token(str(uuid.uuid4()), entitlements=["urn:example:drift-monitor:users"]))
    other.register()
    api.update_experiment(experiment, public=True)  # readable, so the answer is 403 rather than 404
    with pytest.raises(PermissionDenied):
        with DriftMonitor(experiment, "model-1", client=other):
            pass


def test_unserialisable_parameters_raise_at_the_call_site_naming_the_key(api, experiment, db):
    with DriftMonitor(experiment, "model-1", client=api) as monitor:
        with pytest.raises(ValueError, match=r"concept.parameters.stats.mean"):
            monitor.concept(True, {"stats": {"mean": float("nan")}})
        monitor.concept(True, {"stats": {"mean": 1.0}})
    assert db.drifts.find_one({"_id": monitor.run_id})["concept_drift"]["parameters"] == {"stats": {"mean": 1.0}}


def test_module_helpers_use_the_environment(backend_url, user_token, monkeypatch, db):
    monkeypatch.setenv("DRIFT_MONITOR_URL", backend_url)
    monkeypatch.setenv("DRIFT_MONITOR_TOKEN", user_token)
    drift_monitor.register(accept_terms=True)
    drift_monitor.register(accept_terms=True)  # already registered: refreshed, as in 1.1
    name = f"env-{uuid.uuid4().hex[:8]}"
    created = drift_monitor.new_experiment(name, "desc", public=False)
    assert drift_monitor.find_experiment(name).id == created.id
    with pytest.raises(drift_monitor.Conflict):
        drift_monitor.new_experiment(name, "desc")
    with DriftMonitor(name, "model-env") as monitor:
        monitor(False, {})
    runs = drift_monitor.get_drifts(created, since="2000-01-01T00:00:00Z")
    assert [run.id for run in runs] == [monitor.run_id]
    assert drift_monitor.get_drifts(created, filter={"model": "other"}) == []


def test_get_drifts_iterates_every_page(api, experiment):
    for index in range(105):
        api.create_drift(experiment, model=f"m-{index:03d}", job_status="Completed")
    runs = api.get_drifts(experiment)
    assert len(runs) == 105
    assert len({run["id"] for run in runs}) == 105


def test_server_validation_errors_carry_the_field_messages(api, experiment):
    with pytest.raises(ValidationError) as raised:
        api.create_drift(experiment, model="x" * 300)
    assert raised.value.status == 422
    assert "model" in str(raised.value.errors)


def test_get_drifts_as_a_dataframe(api, experiment):
    pd = pytest.importorskip("pandas")
    with DriftMonitor(experiment, "model-df", client=api) as monitor:
        monitor.data(True, {"psi": 0.3})
    frame = api.get_drifts(experiment, as_dataframe=True)
    assert list(frame["id"]) == [monitor.run_id]
    assert frame.loc[0, "data_drift.parameters.psi"] == 0.3
    assert isinstance(frame.loc[0, "created_at"], pd.Timestamp)
