"""Never lose a result: outages spool the run, replays store it exactly once, retries ride out blips."""

from __future__ import annotations

import json
import logging
import threading
import uuid

import drift_monitor
import pytest
from client_support import NO_RETRY
from drift_monitor import Client, DriftMonitor, TransportError
from drift_monitor._spool import Spool
from urllib3.util import Retry

from sandbox.database import free_port


@pytest.fixture
def offline(user_token, spool_dir) -> Client:
    """A client whose server URL points at a closed port."""
    return Client(url=f"http://127.0.0.1:{free_port()}", token=user_token, spool_dir=spool_dir, retry=NO_RETRY)


def test_outage_spools_the_run_and_sync_stores_it_once(offline, api, experiment, spool_dir, db, caplog):
    with caplog.at_level(logging.WARNING, logger="drift_monitor"):
        with DriftMonitor(experiment["name"], "model-1", tags=["t"], client=offline) as monitor:
            monitor.concept(True, {"p": 0.01})
    assert monitor.spooled
    assert "saved to" in caplog.text
    files = sorted(path.name for path in spool_dir.glob("*.json"))
    assert [name.rsplit("-", 1)[1] for name in files] == ["create.json", "replace.json"]
    assert json.loads((spool_dir / files[0]).read_text())["experiment"] == {"name": experiment["name"]}
    assert db.drifts.count_documents({"_id": monitor.run_id}) == 0

    result = drift_monitor.sync(client=api)
    assert (result.uploaded, result.remaining, result.rejected) == (2, 0, 0)
    assert db.drifts.count_documents({"_id": monitor.run_id}) == 1
    run = db.drifts.find_one({"_id": monitor.run_id})
    assert run["job_status"] == "Completed"
    assert run["tags"] == ["t", "concept_drift"]
    assert run["concept_drift"] == {"drift": True, "parameters": {"p": 0.01}}

    assert not drift_monitor.sync(client=api)  # nothing left: replaying again stores nothing more
    assert db.drifts.count_documents({"experiment_id": experiment["id"]}) == 1


def test_failure_inside_the_block_during_an_outage_still_propagates(offline, experiment):
    with pytest.raises(KeyError):
        with DriftMonitor(experiment["name"], "model-1", client=offline):
            raise KeyError("user bug")
    body = json.loads(sorted(Spool(offline.settings.spool_dir).pending())[-1].read_text())["body"]
    assert body["job_status"] == "Failed"


def test_strict_mode_raises_instead_of_spooling(offline, experiment, spool_dir):
    with pytest.raises(TransportError):
        with DriftMonitor(experiment["name"], "model-1", client=offline, strict=True):
            pytest.fail("the block must not run")
    assert not list(spool_dir.glob("*.json"))


def test_crash_between_spool_write_and_upload_loses_nothing(api, experiment, spool_dir, db):
    spool = Spool(spool_dir)
    # Run A: the create reached the server, then the process died; its records were spooled first.
    run_a = str(uuid.uuid4())
    create_a = {"job_status": "Running", "model": "m", "tags": [], "created_at": "2026-01-01T00:00:00.000Z"}
    api.post_drift_body(experiment["id"], {**create_a, "id": run_a})
    spool.add("create", {"id": experiment["id"]}, run_a, create_a)
    spool.add("replace", {"id": experiment["id"]}, run_a, {"job_status": "Completed", "model": "m", "tags": []})
    # Run B: never reached the server at all.
    run_b = str(uuid.uuid4())
    spool.add("create", {"id": experiment["id"]}, run_b, {"job_status": "Running", "model": "m", "tags": []})

    # The next job's DriftMonitor sends the spool before its own run.
    with DriftMonitor(experiment["name"], "model-next", client=api) as monitor:
        pass
    assert spool.pending() == []
    for run_id, status in ((run_a, "Completed"), (run_b, "Running"), (monitor.run_id, "Completed")):
        assert db.drifts.count_documents({"_id": run_id}) == 1
        assert db.drifts.find_one({"_id": run_id})["job_status"] == status


def test_replaying_twice_or_concurrently_stores_once(api, experiment, spool_dir, db):
    run_id = str(uuid.uuid4())
    body = {"job_status": "Running", "model": "m", "tags": []}
    paths = [Spool(spool_dir).add("create", {"id": experiment["id"]}, run_id, body),
             Spool(spool_dir).add("replace", {"id": experiment["id"]}, run_id, {**body, "job_status": "Completed"})]
    copies = [path.read_bytes() for path in paths]

    results = []
    threads = [threading.Thread(target=lambda: results.append(Spool(spool_dir).replay(api))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result.uploaded for result in results) == 2
    # The same files again (as if the removal had been lost): the server still keeps one run.
    for path, content in zip(paths, copies, strict=True):
        path.write_bytes(content)
    assert Spool(spool_dir).replay(api).uploaded == 2
    assert db.drifts.count_documents({"_id": run_id}) == 1
    assert db.drifts.find_one({"_id": run_id})["job_status"] == "Completed"


def test_corrupt_spool_files_are_moved_aside(api, experiment, spool_dir, caplog):
    spool_dir.mkdir(parents=True)
    (spool_dir / "00000000000000000001-x-create.json").write_text("{not json")
    good = Spool(spool_dir).add("create", {"id": experiment["id"]}, str(uuid.uuid4()),
                                {"job_status": "Running", "model": "m", "tags": []})
    with caplog.at_level(logging.WARNING, logger="drift_monitor"):
        result = Spool(spool_dir).replay(api)
    assert (result.uploaded, result.corrupt) == (1, 1)
    assert "unreadable" in caplog.text
    assert (spool_dir / "corrupt" / "00000000000000000001-x-create.json").exists()
    assert not good.exists()


def test_transient_503s_are_retried(proxy, user_token, api, experiment, spool_dir, db):
    client = Client(url=proxy.url, token=user_token, spool_dir=spool_dir,
                    retry=Retry(total=3, backoff_factor=0.05, status_forcelist=(503,), allowed_methods=None,
                                raise_on_status=False))
    proxy.fail_next = 2
    with DriftMonitor(experiment, "model-1", client=client) as monitor:
        monitor.data(False, {})
    statuses = [status for _method, _path, status in proxy.requests]
    assert statuses[:3] == [503, 503, 201]
    assert not monitor.spooled
    assert db.drifts.count_documents({"_id": monitor.run_id}) == 1
    assert db.drifts.find_one({"_id": monitor.run_id})["job_status"] == "Completed"


def test_default_retry_rides_out_two_503s(proxy, user_token, api, experiment, db):
    client = Client(url=proxy.url, token=user_token)
    proxy.fail_next = 2
    created = client.create_drift(experiment, model="m", run_id=str(uuid.uuid4()))
    assert [status for *_, status in proxy.requests] == [503, 503, 201]
    assert db.drifts.count_documents({"_id": created.id}) == 1


def test_server_failing_at_exit_spools_the_completion(proxy, user_token, api, experiment, spool_dir, db):
    client = Client(url=proxy.url, token=user_token, spool_dir=spool_dir, retry=NO_RETRY)
    with DriftMonitor(experiment, "model-1", client=client) as monitor:
        monitor.concept(False, {"p": 0.7})
        proxy.fail_next = 100  # the server goes bad while the detector runs
    assert monitor.spooled
    assert db.drifts.find_one({"_id": monitor.run_id})["job_status"] == "Running"
    assert drift_monitor.sync(client=api).uploaded == 1
    run = db.drifts.find_one({"_id": monitor.run_id})
    assert run["job_status"] == "Completed" and run["concept_drift"]["parameters"] == {"p": 0.7}
