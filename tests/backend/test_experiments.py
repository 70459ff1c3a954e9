"""Experiments: the life of an experiment through the API, and every way a request can fail."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from factories import API


def test_create_gives_the_creator_manage_and_stores_the_experiment(client, alice, make_user, db):
    bob = make_user()
    body = {"name": "churn", "description": "weekly churn", "public": False,
            "permissions": [{"entity": bob.id, "level": "Read"}]}

    response = client.post(f"{API}/experiment", json=body, headers=alice.headers)

    assert response.status_code == 201
    experiment = response.json
    assert uuid.UUID(experiment["id"])
    assert experiment["name"] == "churn"
    assert experiment["description"] == "weekly churn"
    assert experiment["public"] is False
    assert {"entity": alice.id, "level": "Manage"} in experiment["permissions"]
    assert {"entity": bob.id, "level": "Read"} in experiment["permissions"]
    assert experiment["created_at"].endswith("Z") and experiment["updated_at"].endswith("Z")
    stored = db.experiments.find_one({"_id": experiment["id"]})
    assert stored["name"] == "churn"
    assert stored["created_at"].tzinfo is not None  # a BSON date, not a string


def test_defaults_never_send_null(client, alice):
    response = client.post(f"{API}/experiment", json={"name": "minimal"}, headers=alice.headers)

    assert response.status_code == 201
    assert response.json["description"] == ""
    assert response.json["public"] is False
    assert all(value is not None for value in response.json.values())


def test_null_description_from_old_clients_is_stored_empty(client, alice):
    response = client.post(f"{API}/experiment", json={"name": "n", "description": None}, headers=alice.headers)

    assert response.status_code == 201
    assert response.json["description"] == ""


def test_duplicate_name_is_a_conflict(client, alice, make_experiment):
    make_experiment(alice, name="taken")

    response = client.post(f"{API}/experiment", json={"name": "taken"}, headers=alice.headers)

    assert response.status_code == 409
    assert "taken" in response.json["message"]


def test_parallel_creates_of_one_name_make_exactly_one_experiment(app, alice, db):
    def create(_):
        with app.test_client() as client:
            return client.post(f"{API}/experiment", json={"name": "race"}, headers=alice.headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(create, range(16)))

    assert sorted(statuses) == [201] + [409] * 15
    assert db.experiments.count_documents({"name": "race"}) == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "  padded "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "public": "maybe"}, "public"),
        ({"name": "ok", "permissions": [{"entity": "x", "level": "Owner"}]}, "permissions"),
        ({"name": "ok", "permissions": [{"entity": "x"}]}, "permissions"),
        ({"name": "ok", "permissions": [{"entity": "x", "level": "Read", "extra": 1}]}, "permissions"),
        ({"name": "ok", "permissions": [{"entity": "x", "level": "Read"}, {"entity": "x", "level": "Edit"}]},
         "permissions"),
        ({"name": "ok", "owner": "me"}, "owner"),
    ],
)
def test_invalid_experiment_bodies_are_422_naming_the_field(client, alice, body, field, db):
    response = client.post(f"{API}/experiment", json=body, headers=alice.headers)

    assert response.status_code == 422
    assert field in json.dumps(response.json["errors"])
    assert field in response.json["message"]
    assert db.experiments.count_documents({}) == 0


def test_unregistered_token_cannot_create(client, make_user):
    stranger = make_user(register=False)

    response = client.post(f"{API}/experiment", json={"name": "x"}, headers=stranger.headers)

    assert response.status_code == 403
    assert "register" in response.json["message"]


def test_put_replaces_and_patch_changes_part(client, alice, make_experiment):
    experiment = make_experiment(alice)
    url = f"{API}/experiment/{experiment['id']}"

    put = client.put(url, json={"name": "renamed", "description": "new", "public": True,
                                "permissions": experiment["permissions"]}, headers=alice.headers)
    assert put.status_code == 200
    assert (put.json["name"], put.json["description"], put.json["public"]) == ("renamed", "new", True)
    assert put.json["created_at"] == experiment["created_at"]
    assert put.json["updated_at"] >= experiment["updated_at"]

    patch = client.patch(url, json={"description": "patched"}, headers=alice.headers)
    assert patch.status_code == 200
    assert (patch.json["name"], patch.json["description"], patch.json["public"]) == ("renamed", "patched", True)
    assert client.get(url, headers=alice.headers).json == patch.json


def test_put_needs_the_full_representation(client, alice, make_experiment):
    experiment = make_experiment(alice)

    response = client.put(f"{API}/experiment/{experiment['id']}", json={"description": "no name"},
                          headers=alice.headers)

    assert response.status_code == 422
    assert "name" in response.json["errors"]["json"]


def test_permissions_cannot_lose_every_manager(client, alice, make_experiment):
    experiment = make_experiment(alice)

    response = client.patch(f"{API}/experiment/{experiment['id']}",
                            json={"permissions": [{"entity": alice.id, "level": "Read"}]}, headers=alice.headers)

    assert response.status_code == 422
    assert "Manage" in response.json["message"]


def test_renaming_onto_another_name_is_a_conflict(client, alice, make_experiment):
    make_experiment(alice, name="first")
    second = make_experiment(alice, name="second")

    response = client.patch(f"{API}/experiment/{second['id']}", json={"name": "first"}, headers=alice.headers)

    assert response.status_code == 409
    assert client.get(f"{API}/experiment/{second['id']}", headers=alice.headers).json["name"] == "second"


def test_delete_removes_the_experiment_and_all_its_runs(client, alice, make_experiment, make_run, db):
    doomed = make_experiment(alice)
    kept = make_experiment(alice)
    for _ in range(3):
        make_run(alice, doomed)
    make_run(alice, kept)

    response = client.delete(f"{API}/experiment/{doomed['id']}", headers=alice.headers)

    assert response.status_code == 204
    assert client.get(f"{API}/experiment/{doomed['id']}", headers=alice.headers).status_code == 404
    assert db.drifts.count_documents({"experiment_id": doomed["id"]}) == 0
    assert db.drifts.count_documents({"experiment_id": kept["id"]}) == 1
    assert client.delete(f"{API}/experiment/{doomed['id']}", headers=alice.headers).status_code == 404


def test_an_interrupted_deletion_is_hidden_and_finished_by_the_next_process(app_env, alice, make_experiment,
                                                                             make_run, client, db):
    from drift_backend import create_app
    from drift_backend.settings import Settings

    experiment = make_experiment(alice)
    make_run(alice, experiment)
    # What a crash between marking and removing leaves behind.
    db.experiments.update_one({"_id": experiment["id"]}, {"$set": {"deleting": experiment["created_at"]}})
    assert client.get(f"{API}/experiment/{experiment['id']}", headers=alice.headers).status_code == 404
    assert client.post(f"{API}/experiment/search", json={}, headers=alice.headers).json == []

    restarted = create_app(Settings.from_environ(app_env)).test_client()
    assert restarted.get("/api/health").status_code == 200
    restarted.post(f"{API}/experiment/search", json={})  # first database use prepares it

    assert db.experiments.count_documents({"_id": experiment["id"]}) == 0
    assert db.drifts.count_documents({"experiment_id": experiment["id"]}) == 0


def test_unknown_experiment_is_404(client, alice):
    response = client.get(f"{API}/experiment/{uuid.uuid4()}", headers=alice.headers)

    assert response.status_code == 404
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_search_filters_sorts_and_paginates(client, alice, make_experiment):
    for name in ["delta", "alpha", "charlie", "bravo"]:
        make_experiment(alice, name=name, public=name in ("alpha", "bravo"))

    first = client.post(f"{API}/experiment/search?sort_by=name&order_by=asc&page_size=3", json={},
                        headers=alice.headers)
    second = client.post(f"{API}/experiment/search?sort_by=name&order_by=asc&page_size=3&page=2", json={},
                         headers=alice.headers)
    public = client.post(f"{API}/experiment/search", json={"public": True, "name": {"$regex": "^b"}},
                         headers=alice.headers)

    assert [e["name"] for e in first.json] == ["alpha", "bravo", "charlie"]
    assert [e["name"] for e in second.json] == ["delta"]
    pagination = json.loads(first.headers["X-Pagination"])
    assert (pagination["total"], pagination["total_pages"], pagination["next_page"]) == (4, 2, 2)
    assert [e["name"] for e in public.json] == ["bravo"]


@pytest.mark.parametrize(
    "query, message",
    [
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page=0", "page"),
        ("sort_by=password", "password"),
        ("order_by=sideways", "order_by"),
    ],
)
def test_search_rejects_bad_paging_and_sorting(client, query, message):
    response = client.post(f"{API}/experiment/search?{query}", json={})

    assert response.status_code == 422
    assert message in response.json["message"]


def test_search_filter_outside_the_allowlist_is_422(client, alice):
    for body in ({"$where": "sleep(1000)"}, {"secret_field": 1}, {"name": {"$function": {}}}):
        response = client.post(f"{API}/experiment/search", json=body, headers=alice.headers)
        assert response.status_code == 422, body
        assert next(iter(json.dumps(body)[2:].split('"'))) in response.json["message"]


def test_managers_can_filter_on_permissions(client, alice, make_user, make_experiment):
    bob = make_user()
    shared = make_experiment(alice, permissions=[{"entity": bob.id, "level": "Edit"}])
    make_experiment(alice)

    response = client.post(f"{API}/experiment/search", json={"permissions.entity": bob.id}, headers=alice.headers)

    assert [experiment["id"] for experiment in response.json] == [shared["id"]]
