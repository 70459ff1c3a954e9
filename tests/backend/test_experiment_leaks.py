"""Security issue 11, "Leaks": experiment names and result order must not reveal experiments you cannot read.

Names used to be unique across all users: creating a name someone else had used answered 409 (an existence
oracle for private experiments) and let a squatter take a victim's name first. Names are now unique per
`owner`. Sorting by permission entries (or the owner) used to reveal them through where results landed.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from factories import API

ERROR_KEYS = {"code", "status", "message", "errors"}


def search(client, user=None, body=None, query=""):
    headers = user.headers if user else {}
    return client.post(f"{API}/experiment/search{query}", json=body or {}, headers=headers)


def self_id(client, user) -> str:
    return client.get(f"{API}/user/self", headers=user.headers).json["id"]


# --- names are unique per owner --------------------------------------------------------------------------

def test_another_users_private_name_is_free_and_stays_distinct(client, alice, make_user, make_experiment, db):
    secret = make_experiment(alice, name="acquisition-target")
    bob = make_user()

    response = client.post(f"{API}/experiment", json={"name": "acquisition-target"}, headers=bob.headers)

    assert response.status_code == 201, response.json  # no 409: nothing about alice's experiment leaks
    bobs = response.json
    assert bobs["id"] != secret["id"]
    assert bobs["owner"] == bob.id and secret["owner"] == alice.id
    assert client.get(f"{API}/experiment/{secret['id']}", headers=bob.headers).status_code == 404
    assert [e["id"] for e in search(client, alice, {"name": "acquisition-target"}).json] == [secret["id"]]
    assert [e["id"] for e in search(client, bob, {"name": "acquisition-target"}).json] == [bobs["id"]]
    assert db.experiments.count_documents({"name": "acquisition-target"}) == 2


def test_a_squatter_cannot_take_a_victims_name_first(client, alice, make_user, make_experiment):
    squatter = make_user()
    make_experiment(squatter, name="alice-production", public=True)

    response = client.post(f"{API}/experiment", json={"name": "alice-production"}, headers=alice.headers)

    assert response.status_code == 201
    assert response.json["owner"] == alice.id


def test_your_own_duplicate_is_still_a_conflict(client, alice, make_user, make_experiment):
    bob = make_user()
    make_experiment(bob, name="shared-name")
    make_experiment(alice, name="shared-name")

    response = client.post(f"{API}/experiment", json={"name": "shared-name"}, headers=alice.headers)

    assert response.status_code == 409
    assert set(response.json) == ERROR_KEYS
    assert "you already own" in response.json["message"] and "shared-name" in response.json["message"]


def test_parallel_creates_of_one_name_by_two_users_make_one_each(app, alice, make_user, db):
    bob = make_user()

    def create(user):
        with app.test_client() as client:
            return user.id, client.post(f"{API}/experiment", json={"name": "race"}, headers=user.headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(create, [alice, bob] * 8))

    for user in (alice, bob):
        assert sorted(status for who, status in results if who == user.id) == [201] + [409] * 7
        assert db.experiments.count_documents({"name": "race", "owner": user.id}) == 1


def test_renaming_onto_another_users_private_name_succeeds(client, alice, make_user, make_experiment):
    make_experiment(alice, name="hidden")
    bob = make_user()
    bobs = make_experiment(bob, name="draft")

    response = client.patch(f"{API}/experiment/{bobs['id']}", json={"name": "hidden"}, headers=bob.headers)

    assert response.status_code == 200, response.json
    assert response.json["name"] == "hidden"


def test_renaming_onto_a_name_the_owner_already_has_is_a_conflict(client, alice, make_user, make_experiment):
    # A co-manager renames alice's experiment: the name must stay unique among alice's experiments,
    # which is whose namespace the experiment lives in (documented: the co-manager learns alice has one).
    bob = make_user()
    make_experiment(alice, name="taken-by-alice")
    shared = make_experiment(alice, permissions=[{"entity": bob.id, "level": "Manage"}])

    response = client.patch(f"{API}/experiment/{shared['id']}", json={"name": "taken-by-alice"},
                            headers=bob.headers)

    assert response.status_code == 409
    assert "owner" in response.json["message"]
    assert client.get(f"{API}/experiment/{shared['id']}", headers=alice.headers).json["name"] == shared["name"]


# --- the owner field ---------------------------------------------------------------------------------------

def test_owner_is_the_creators_user_id_as_user_self_returns_it(client, alice, make_experiment, db):
    experiment = make_experiment(alice)

    assert experiment["owner"] == self_id(client, alice) == alice.id
    assert client.get(f"{API}/experiment/{experiment['id']}", headers=alice.headers).json["owner"] == alice.id
    assert db.experiments.find_one({"_id": experiment["id"]})["owner"] == alice.id


def test_an_admins_experiment_is_owned_by_the_admin(client, admin, alice, make_experiment):
    experiment = make_experiment(admin)
    alices = make_experiment(alice)

    assert experiment["owner"] == admin.id
    assert client.get(f"{API}/experiment/{alices['id']}", headers=admin.headers).json["owner"] == alice.id


@pytest.mark.parametrize("method", ["put", "patch"])
def test_owner_cannot_be_set_or_changed(client, alice, make_user, make_experiment, db, method):
    bob = make_user()
    experiment = make_experiment(alice)
    body = {"name": experiment["name"], "owner": bob.id}

    response = getattr(client, method)(f"{API}/experiment/{experiment['id']}", json=body, headers=alice.headers)

    assert response.status_code == 422
    assert "owner" in response.json["errors"]["json"]
    assert db.experiments.find_one({"_id": experiment["id"]})["owner"] == alice.id


def test_readers_do_not_see_the_owner_but_the_owner_always_does(client, alice, make_user, make_experiment):
    bob = make_user()
    experiment = make_experiment(alice, public=True, permissions=[{"entity": bob.id, "level": "Manage"}])
    url = f"{API}/experiment/{experiment['id']}"
    # Bob, a manager, hands alice down to Read: she is still its owner and still sees that.
    demoted = client.patch(url, json={"permissions": [{"entity": bob.id, "level": "Manage"},
                                                      {"entity": alice.id, "level": "Read"}]}, headers=bob.headers)
    assert demoted.status_code == 200, demoted.json
    reader = make_user()

    assert "owner" not in client.get(url, headers=reader.headers).json
    assert "owner" not in client.get(url).json
    assert "owner" not in search(client, reader, {"id": experiment["id"]}).json[0]
    assert client.get(url, headers=bob.headers).json["owner"] == alice.id
    seen_by_alice = client.get(url, headers=alice.headers).json
    assert seen_by_alice["owner"] == alice.id and "permissions" not in seen_by_alice


def test_filtering_on_owner_lists_your_own_and_reveals_nothing_else(client, alice, make_user, make_experiment):
    bob = make_user()
    mine = make_experiment(alice, name="mine")
    make_experiment(alice, name="public-of-alice", public=True)
    make_experiment(bob, name="mine", public=True)

    own = search(client, alice, {"owner": alice.id, "name": "mine"})
    probing = search(client, bob, {"owner": alice.id})
    probing_negated = search(client, bob, {"owner": {"$ne": bob.id}})
    anonymous = search(client, None, {"owner": {"$in": [alice.id, bob.id]}})

    assert [e["id"] for e in own.json] == [mine["id"]]
    # Alice's public experiment is readable by bob and by anyone, but who owns it is not theirs to learn.
    assert probing.status_code == 200 and probing.json == []
    assert probing_negated.json == []
    assert anonymous.status_code == 200 and anonymous.json == []


def test_an_admin_can_filter_on_any_owner(client, admin, alice, make_experiment):
    alices = make_experiment(alice)

    assert [e["id"] for e in search(client, admin, {"owner": alice.id}).json] == [alices["id"]]


@pytest.mark.parametrize("body", [{"owner": None}, {"owner": 5}, {"owner": {"$regex": "^a"}}])
def test_bad_owner_conditions_are_422(client, alice, body):
    response = search(client, alice, body)

    assert response.status_code == 422
    assert set(response.json) == ERROR_KEYS
    assert "owner" in response.json["message"]


# --- sorting ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["permissions", "permissions.entity", "permissions.level", "permissions.x",
                                   "owner", "owner.x"])
def test_manager_only_fields_are_not_sortable(client, alice, make_user, make_experiment, field):
    bob = make_user()
    make_experiment(bob, public=True, permissions=[{"entity": "urn:secret:group", "level": "Read"}])
    make_experiment(alice)

    response = search(client, alice, query=f"?sort_by={field}")

    assert response.status_code == 422
    assert set(response.json) == ERROR_KEYS
    message = response.json["message"]
    assert f"cannot sort by {field!r}" in message
    # The refusal lists what may be sorted by, and nothing it just refused.
    allowed = message.split("sortable fields: ")[1]
    assert {"name", "created_at", "id"} <= set(allowed.split(", "))
    assert "permissions" not in allowed and "owner" not in allowed


def test_visible_fields_still_sort(client, alice, make_experiment):
    for name in ["b", "a", "c"]:
        make_experiment(alice, name=name)

    response = search(client, alice, query="?sort_by=name&order_by=asc")

    assert [e["name"] for e in response.json] == ["a", "b", "c"]


# --- migration of a database from before owners ------------------------------------------------------------

def test_start_up_replaces_the_global_name_index_and_backfills_owners(app_env, client, alice, make_user,
                                                                        make_experiment, db):
    from drift_backend import create_app
    from drift_backend.settings import Settings

    bob = make_user()
    alices = make_experiment(alice, name="legacy-alice")
    # Bob manages this one, after a group that does too: the owner is the first *user* with Manage.
    group_first = make_experiment(alice, name="legacy-group-first", permissions=[
        {"entity": "urn:example:team", "level": "Manage"}, {"entity": bob.id, "level": "Manage"}])
    db.experiments.update_one({"_id": group_first["id"]}, {"$set": {"permissions": [
        {"entity": "urn:example:team", "level": "Manage"}, {"entity": bob.id, "level": "Manage"},
        {"entity": alice.id, "level": "Read"}]}})
    # The database as the previous version left it: no owners, names unique across everyone.
    db.experiments.update_many({}, {"$unset": {"owner": ""}})
    db.experiments.drop_index("unique_owner_name")
    db.experiments.create_index([("name", 1)], unique=True, name="unique_name")
    groups_only = {"_id": str(uuid.uuid4()), "name": "legacy-groups-only", "description": "", "public": True,
                   "permissions": [{"entity": "urn:example:team", "level": "Manage"},
                                   {"entity": str(uuid.uuid4()), "level": "Manage"}],  # not a registered user
                   **db.experiments.find_one({"_id": alices["id"]}, {"_id": 0, "created_at": 1, "updated_at": 1})}
    db.experiments.insert_one(groups_only)
    assert "owner" not in db.experiments.find_one({"_id": alices["id"]})

    restarted = create_app(Settings.from_environ(app_env)).test_client()
    try:
        assert restarted.post(f"{API}/experiment/search", json={}).status_code == 200  # prepares the database

        indexes = db.experiments.index_information()
        assert "unique_name" not in indexes
        assert indexes["unique_owner_name"]["unique"] is True
        assert [key for key, _ in indexes["unique_owner_name"]["key"]] == ["owner", "name"]
        owners = {e["name"]: e["owner"] for e in db.experiments.find({}, {"name": 1, "owner": 1})}
        assert owners == {"legacy-alice": alice.id, "legacy-group-first": bob.id, "legacy-groups-only": None}

        # The old global rule is gone: bob may now use alice's name, alice may not repeat her own.
        assert restarted.post(f"{API}/experiment", json={"name": "legacy-alice"},
                              headers=bob.headers).status_code == 201
        assert restarted.post(f"{API}/experiment", json={"name": "legacy-alice"},
                              headers=alice.headers).status_code == 409
        # A null owner binds no one's names, and is not mistaken for "anyone's".
        assert restarted.post(f"{API}/experiment", json={"name": "legacy-groups-only"},
                              headers=alice.headers).status_code == 201
        assert restarted.get(f"{API}/experiment/{alices['id']}", headers=alice.headers).json["owner"] == alice.id
    finally:
        restarted.application.extensions["mongo"].close()

    # A second start finds nothing left to do and changes nothing.
    again = create_app(Settings.from_environ(app_env))
    try:
        assert again.test_client().post(f"{API}/experiment/search", json={}).status_code == 200
        assert db.experiments.find_one({"name": "legacy-groups-only", "owner": None}) is not None
        assert "unique_name" not in db.experiments.index_information()
    finally:
        again.extensions["mongo"].close()
