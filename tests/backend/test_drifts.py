"""Drift runs: reporting, completing, searching, idempotent retries, and stored data kept exactly."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from factories import drifts_url, run_body


def test_the_published_clients_run_lifecycle(client, alice, experiment, db):
    created = client.post(drifts_url(experiment), json=run_body(tags=["weekly"]), headers=alice.headers)
    assert created.status_code == 201
    run = created.json
    assert run["job_status"] == "Running"
    assert run["schema_version"]
    assert run["experiment_id"] == experiment["id"]

    completed = client.put(drifts_url(experiment, run["id"]), headers=alice.headers, json=run_body(
        job_status="Completed", tags=["weekly"], drift_detected=True, parameters={"p_value": 0.01}))

    assert completed.status_code == 200
    assert completed.json["job_status"] == "Completed"
    assert completed.json["drift_detected"] is True
    assert completed.json["created_at"] == run["created_at"]
    stored = db.drifts.find_one({"_id": run["id"]})
    assert stored["job_status"] == "Completed"
    assert stored["parameters"] == {"p_value": 0.01}
    assert stored["created_at"].tzinfo is not None


def test_structured_results_decide_drift_detected(client, alice, experiment):
    body = run_body(job_status="Completed", drift_detected=False,
                    concept_drift={"drift": False, "parameters": {"delta": 0.01}},
                    data_drift={"drift": True, "parameters": {"drift_share": 0.4}})

    run = client.post(drifts_url(experiment), json=body, headers=alice.headers).json

    assert run["drift_detected"] is True
    assert run["concept_drift"] == {"drift": False, "parameters": {"delta": 0.01}}
    assert run["data_drift"] == {"drift": True, "parameters": {"drift_share": 0.4}}

    patched = client.patch(drifts_url(experiment, run["id"]), json={"data_drift": {"drift": False}},
                           headers=alice.headers)
    assert patched.json["drift_detected"] is False
    assert patched.json["data_drift"] == {"drift": False, "parameters": {}}


def test_parameters_come_back_exactly_as_sent(client, alice, experiment, db):
    parameters = {
        "features.age": {"p_value": 1e-300, "statistic": 0.5},
        "$weird key": [1, 2.5, "three", None, True, {"nested": {"deep": [[]]}}],
        "unicode ✓": "µ",
        "big": 2**62,
        "negative": -0.0,
    }

    run = client.post(drifts_url(experiment), json=run_body(parameters=parameters), headers=alice.headers).json
    read = client.get(drifts_url(experiment, run["id"]), headers=alice.headers).json

    assert read["parameters"] == parameters
    assert list(read["parameters"]) == list(parameters)
    assert db.drifts.find_one({"_id": run["id"]})["parameters"] == parameters


def test_a_finished_run_cannot_change_status(client, alice, experiment, make_run):
    run = make_run(alice, experiment)
    url = drifts_url(experiment, run["id"])
    assert client.put(url, json=run_body(job_status="Completed"), headers=alice.headers).status_code == 200
    assert client.put(url, json=run_body(job_status="Completed"), headers=alice.headers).status_code == 200

    for status in ("Running", "Failed"):
        response = client.put(url, json=run_body(job_status=status), headers=alice.headers)
        assert response.status_code == 409
        assert "Completed" in response.json["message"]


def test_put_removes_results_not_sent(client, alice, experiment):
    body = run_body(data_drift={"drift": True, "parameters": {}})
    run = client.post(drifts_url(experiment), json=body, headers=alice.headers).json

    replaced = client.put(drifts_url(experiment, run["id"]), json=run_body(job_status="Completed"),
                          headers=alice.headers).json

    assert "data_drift" not in replaced
    assert replaced["drift_detected"] is False


def test_retried_create_with_the_same_id_stores_one_run(client, alice, experiment, db):
    body = run_body(id=str(uuid.uuid4()), parameters={"x": 1})

    first = client.post(drifts_url(experiment), json=body, headers=alice.headers)
    retry = client.post(drifts_url(experiment), json=body, headers=alice.headers)
    other = client.post(drifts_url(experiment), json={**body, "parameters": {"x": 2}}, headers=alice.headers)

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json == first.json
    assert other.status_code == 409
    assert db.drifts.count_documents({"_id": body["id"]}) == 1
    assert db.drifts.find_one({"_id": body["id"]})["parameters"] == {"x": 1}


def test_parallel_retries_of_one_create_store_one_run(app, alice, experiment, db):
    body = run_body(id=str(uuid.uuid4()))

    def create(_):
        with app.test_client() as client:
            return client.post(drifts_url(experiment), json=body, headers=alice.headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(create, range(12)))

    assert statuses.count(201) == 1 and statuses.count(200) == 11
    assert db.drifts.count_documents({"experiment_id": experiment["id"]}) == 1


def test_a_run_id_of_another_experiment_is_a_conflict(client, alice, make_experiment):
    first, second = make_experiment(alice), make_experiment(alice)
    body = run_body(id=str(uuid.uuid4()))
    client.post(drifts_url(first), json=body, headers=alice.headers)

    response = client.post(drifts_url(second), json=body, headers=alice.headers)

    assert response.status_code == 409


@pytest.mark.parametrize(
    "body, field",
    [
        ({"model": "m"}, "job_status"),
        (run_body(job_status="Done"), "job_status"),
        (run_body(model=""), "model"),
        ({"job_status": "Running"}, "model"),
        (run_body(tags=["x" * 21]), "tags"),
        (run_body(tags=[""]), "tags"),
        (run_body(parameters=[1, 2]), "parameters"),
        (run_body(concept_drift={"parameters": {}}), "concept_drift"),
        (run_body(data_drift={"drift": True, "extra": 1}), "data_drift"),
        (run_body(id="not-a-uuid"), "id"),
        (run_body(colour="red"), "colour"),
        (run_body(experiment_id="elsewhere"), "experiment_id"),
    ],
)
def test_invalid_run_bodies_are_422_and_store_nothing(client, alice, experiment, body, field, db):
    response = client.post(drifts_url(experiment), json=body, headers=alice.headers)

    assert response.status_code == 422
    assert field in json.dumps(response.json["errors"])
    assert db.drifts.count_documents({}) == 0


def test_non_finite_numbers_are_refused(client, alice, experiment):
    raw = '{"job_status": "Running", "model": "m", "parameters": {"p": NaN}}'

    response = client.post(drifts_url(experiment), data=raw, content_type="application/json",
                           headers=alice.headers)

    assert response.status_code == 422
    assert "NaN" in response.json["message"]


def test_update_of_an_unknown_run_is_404(client, alice, experiment):
    url = drifts_url(experiment, str(uuid.uuid4()))

    assert client.get(url, headers=alice.headers).status_code == 404
    assert client.put(url, json=run_body(), headers=alice.headers).status_code == 404
    assert client.patch(url, json={"model": "x"}, headers=alice.headers).status_code == 404
    assert client.delete(url, headers=alice.headers).status_code == 404


def test_runs_of_one_experiment_are_not_reachable_through_another(client, alice, make_experiment, make_run):
    first, second = make_experiment(alice), make_experiment(alice)
    run = make_run(alice, first)

    assert client.get(drifts_url(second, run["id"]), headers=alice.headers).status_code == 404
    assert client.delete(drifts_url(second, run["id"]), headers=alice.headers).status_code == 404
    assert client.get(drifts_url(first, run["id"]), headers=alice.headers).status_code == 200


def test_delete_removes_one_run(client, alice, experiment, make_run, db):
    run, other = make_run(alice, experiment), make_run(alice, experiment)

    assert client.delete(drifts_url(experiment, run["id"]), headers=alice.headers).status_code == 204
    assert db.drifts.count_documents({"experiment_id": experiment["id"]}) == 1
    assert db.drifts.find_one({"_id": other["id"]}) is not None


def test_search_filters_on_parameters_dates_and_tags(client, alice, experiment, make_run):
    make_run(alice, experiment, model="a", tags=["prod"], parameters={"ks": {"p_value": 0.01}})
    make_run(alice, experiment, model="b", tags=["dev"], parameters={"ks": {"p_value": 0.2}},
             data_drift={"drift": True, "parameters": {"drift_share": 0.5}})
    make_run(alice, experiment, model="a", tags=["prod", "eu"], job_status="Failed")

    def search(body, query=""):
        response = client.post(drifts_url(experiment, f"search{query}"), json=body, headers=alice.headers)
        assert response.status_code == 200, response.json
        return response.json

    assert [r["model"] for r in search({"parameters.ks.p_value": {"$lt": 0.05}})] == ["a"]
    assert len(search({"tags": "prod"})) == 2
    assert len(search({"tags": {"$all": ["prod", "eu"]}})) == 1
    assert len(search({"data_drift.drift": True})) == 1
    assert len(search({"created_at": {"$gte": "2000-01-01T00:00:00Z"}})) == 3
    assert search({"created_at": {"$lt": "2000-01-01"}}) == []
    assert len(search({"$or": [{"model": "b"}, {"job_status": "Failed"}]})) == 2
    ascending = search({}, "?sort_by=parameters.ks.p_value&order_by=asc")
    assert [r["parameters"].get("ks", {}).get("p_value") for r in ascending][1:] == [0.01, 0.2]


def test_search_pages_are_stable_and_complete(client, alice, experiment, make_run):
    ids = {make_run(alice, experiment)["id"] for _ in range(7)}

    seen = []
    for page in (1, 2, 3):
        response = client.post(drifts_url(experiment, f"search?page={page}&page_size=3"), json={},
                               headers=alice.headers)
        seen += [run["id"] for run in response.json]
        pagination = json.loads(response.headers["X-Pagination"])
        assert pagination["total"] == 7

    assert sorted(seen) == sorted(ids)
    newest_first = [run["created_at"] for run in client.post(drifts_url(experiment, "search?page_size=10"), json={},
                                                             headers=alice.headers).json]
    assert newest_first == sorted(newest_first, reverse=True)


def test_search_filter_outside_the_allowlist_is_422(client, alice, experiment):
    for body, problem in [({"experiment_id": "other"}, "experiment_id"),
                          ({"parameters.x": {"$where": "1"}}, "$where"),
                          ({"$expr": {"$gt": ["$a", 1]}}, "$expr")]:
        response = client.post(drifts_url(experiment, "search"), json=body, headers=alice.headers)
        assert response.status_code == 422
        assert problem in response.json["message"]


def test_search_body_over_64_kib_is_422(client, alice, experiment):
    body = {"model": {"$in": ["m" * 200] * 400}}

    response = client.post(drifts_url(experiment, "search"), json=body, headers=alice.headers)

    assert response.status_code == 422
    assert "64 KiB" in response.json["message"]


def test_history_can_be_imported_with_its_own_start_time(client, alice, experiment, db):
    url = drifts_url(experiment)
    old = client.post(url, json=run_body(created_at="2026-01-15T08:30:00.123456+01:00"), headers=alice.headers)
    naive = client.post(url, json=run_body(created_at="2026-01-16T00:00:00"), headers=alice.headers)
    future = client.post(url, json=run_body(created_at="2999-01-01T00:00:00Z"), headers=alice.headers)

    assert old.status_code == 201
    assert old.json["created_at"] == "2026-01-15T07:30:00.123Z"
    assert old.json["updated_at"] > old.json["created_at"]
    assert naive.json["created_at"] == "2026-01-16T00:00:00.000Z"
    assert future.status_code == 422
    assert "future" in future.json["message"]
    oldest = client.post(drifts_url(experiment, "search?order_by=asc"), json={}, headers=alice.headers).json[0]
    assert oldest["id"] == old.json["id"]
    assert db.drifts.find_one({"_id": old.json["id"]})["created_at"].isoformat() == "2026-01-15T07:30:00.123000+00:00"
