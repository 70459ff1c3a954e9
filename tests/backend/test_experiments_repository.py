"""The experiments repository on a real database: which experiments a caller sees, and what a deletion removes.

The same rules are checked through HTTP in test_authorization_matrix.py and test_experiment_leaks.py;
here the repository is called directly with the caller's facts (a plain `Caller`, no request).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from drift_backend.identity import Caller, Identity
from drift_backend.query_language import compile_filter
from drift_backend.repositories import Page
from drift_backend.repositories.drifts import DriftRuns
from drift_backend.repositories.experiments import Experiments
from drift_backend.repositories.summaries import COLLECTION, DriftSummaries
from drift_backend.repositories.users import Users
from drift_backend.resources.experiments.schemas import EXPERIMENT_SEARCH_FIELDS

GROUP = "urn:group:team"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _identity(subject: str, *entitlements: str) -> Identity:
    return Identity(issuer="https://idp.test", subject=subject, email=None, entitlements=frozenset(entitlements))


ANONYMOUS = Caller()
ALICE = Caller(_identity("alice"), user_id="alice")
BOB = Caller(_identity("bob"), user_id="bob")
# A valid token that never registered: only its entitlement can be granted anything.
TEAM_MEMBER = Caller(_identity("tm", GROUP))
ADMIN = Caller(_identity("root", "admins"), user_id="root", is_admin=True)


def _experiment(name: str, owner: str | None, permissions: list[tuple[str, str]], public: bool = False, **extra):
    return {"_id": name, "name": name, "description": "", "public": public, "owner": owner,
            "permissions": [{"entity": entity, "level": level} for entity, level in permissions],
            "created_at": NOW, "updated_at": NOW, **extra}


@pytest.fixture
def experiments(db):
    db.experiments.insert_many([
        _experiment("public-by-alice", "alice", [("alice", "Manage")], public=True),
        _experiment("alice-private", "alice", [("alice", "Manage")]),
        _experiment("bob-private", "bob", [("bob", "Manage")]),
        _experiment("bob-team-reads", "bob", [("bob", "Manage"), (GROUP, "Read")]),
        _experiment("team-managed", None, [(GROUP, "Manage")]),
        # Older, no user manages it: readable by all, its (null) owner told to nobody but its managers.
        _experiment("legacy-public", None, [("urn:group:other", "Manage")], public=True),
        # Hidden from everyone, administrators too, while its deletion finishes.
        _experiment("being-deleted", "alice", [("alice", "Manage")], public=True, deleting=NOW),
    ])
    return Experiments(db)


def names(experiments: Experiments, caller: Caller, body: dict | None = None) -> list[str]:
    page = Page(compile_filter(body or {}, EXPERIMENT_SEARCH_FIELDS), [("name", 1)], 1, 50)
    items, total = experiments.search_visible(caller, page)
    assert total == len(items)
    return [item["name"] for item in items]


@pytest.mark.parametrize(("caller", "visible"), [
    (ADMIN, ["alice-private", "bob-private", "bob-team-reads", "legacy-public", "public-by-alice", "team-managed"]),
    (ANONYMOUS, ["legacy-public", "public-by-alice"]),
    (ALICE, ["alice-private", "legacy-public", "public-by-alice"]),
    (BOB, ["bob-private", "bob-team-reads", "legacy-public", "public-by-alice"]),
    (TEAM_MEMBER, ["bob-team-reads", "legacy-public", "public-by-alice", "team-managed"]),
], ids=["admin", "anonymous", "registered", "registered-other", "entitlement"])
def test_a_caller_sees_public_experiments_and_those_granted_to_its_entities(experiments, caller, visible):
    assert names(experiments, caller) == visible


@pytest.mark.parametrize(("caller", "visible"), [
    (ADMIN, ["bob-team-reads", "team-managed"]),
    (ANONYMOUS, []),
    (ALICE, []),
    (BOB, ["bob-team-reads"]),
    # It reads bob-team-reads, but does not manage it: its permission list stays secret.
    (TEAM_MEMBER, ["team-managed"]),
], ids=["admin", "anonymous", "registered", "registered-other", "entitlement"])
def test_a_permissions_condition_matches_only_among_managed_experiments(experiments, caller, visible):
    assert names(experiments, caller, {"permissions.entity": GROUP}) == visible


@pytest.mark.parametrize(("caller", "body", "visible"), [
    (ADMIN, {"owner": "bob"}, ["bob-private", "bob-team-reads"]),
    (BOB, {"owner": "bob"}, ["bob-private", "bob-team-reads"]),
    # Reads bob-team-reads, neither owns nor manages it.
    (TEAM_MEMBER, {"owner": "bob"}, []),
    (ANONYMOUS, {"owner": "alice"}, []),
    (ALICE, {"owner": "bob"}, []),
    # No user id, so it owns nothing (not every experiment without an owner): it matches only where it manages.
    (TEAM_MEMBER, {"owner": {"$ne": "bob"}}, ["team-managed"]),
    (ANONYMOUS, {"owner": {"$ne": "bob"}}, []),
    (ADMIN, {"owner": {"$ne": "bob"}}, ["alice-private", "legacy-public", "public-by-alice", "team-managed"]),
], ids=["admin", "owner", "reader", "anonymous", "other-user", "entitlement-not", "anonymous-not", "admin-not"])
def test_an_owner_condition_matches_only_among_owned_or_managed_experiments(experiments, caller, body, visible):
    assert names(experiments, caller, body) == visible


def test_the_search_filter_still_narrows_the_visible_experiments(experiments):
    assert names(experiments, BOB, {"name": {"$regex": "^bob-"}, "public": False}) == ["bob-private", "bob-team-reads"]
    assert names(experiments, ANONYMOUS, {"name": "alice-private"}) == []


def test_a_page_and_its_total(experiments):
    page = Page({}, [("name", -1)], 2, 2)
    items, total = experiments.search_visible(ADMIN, page)
    assert total == 6
    assert [item["name"] for item in items] == ["legacy-public", "bob-team-reads"]


def test_the_condition_of_a_caller_without_entities_is_public_only():
    assert Experiments.readable_by(ANONYMOUS) == {"public": True}
    assert Experiments.readable_by(ADMIN) == {} and Experiments.managed_by(ADMIN) == {}
    # Never {"owner": None}, which would match every experiment without an owner.
    assert Experiments.owned_by(None) == {"_id": {"$in": []}}


# --- deletion goes through the repositories that own the other collections ---------------------------------


def test_deleting_an_experiment_removes_its_runs_and_summaries_only(db, experiments):
    runs = DriftRuns(db)
    for experiment_id in ("alice-private", "bob-private"):
        runs.create(experiment_id, {"job_status": "Completed", "model": "m", "tags": [], "drift_detected": False,
                                    "parameters": {}}, created_at=NOW)
    # Outside an app the summaries are written at once.
    assert db[COLLECTION].count_documents({"experiment_id": "alice-private"}) > 0

    experiments.delete("alice-private")

    assert db.experiments.count_documents({"_id": "alice-private"}) == 0
    assert db.drifts.count_documents({"experiment_id": "alice-private"}) == 0
    assert db[COLLECTION].count_documents({"experiment_id": "alice-private"}) == 0
    assert db.drifts.count_documents({"experiment_id": "bob-private"}) == 1
    assert DriftSummaries(db).experiment_stats(["bob-private"])["bob-private"]["runs"] == 1


def test_delete_experiment_runs_counts_what_it_removed(db):
    runs = DriftRuns(db)
    for experiment_id in ("a", "a", "b"):
        runs.create(experiment_id, {"job_status": "Running", "model": "m", "tags": [], "drift_detected": False,
                                    "parameters": {}}, created_at=NOW)

    assert runs.delete_experiment_runs("a") == 2
    assert runs.delete_experiment_runs("a") == 0
    assert db.drifts.count_documents({"experiment_id": "b"}) == 1


def test_registered_ids_tells_users_from_groups(db):
    users = Users(db)
    alice = users.register(_identity("alice-subject"))

    assert users.registered_ids([alice["_id"], GROUP, "nobody"]) == {alice["_id"]}
    assert users.registered_ids([]) == set()
