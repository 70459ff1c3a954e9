"""Authorization matrix: who may call which operation, on a private and on a public experiment.

Rules under test (Read < Edit < Manage on an experiment, granted to a user id or to an
entitlement; administrators may do everything):

- a public experiment is readable by anyone, anonymous callers included;
- a private experiment is invisible to a caller without a permission on it: reading it answers
  404, exactly as for an experiment that does not exist, and searches never list it;
- writes need a bearer token: an anonymous write answers 401 with a `WWW-Authenticate` challenge;
- a caller who can see the experiment but lacks the level answers 403;
- the permission list is shown only to callers holding Manage (and administrators).

Callers, each a fresh identity minted by the sandbox identity provider:

    anonymous     no Authorization header
    unregistered  a valid token, never registered with POST /user
    registered    a registered user with no permission on the experiment
    read          Read granted to the user id
    edit          Edit granted to the user id
    manage        Manage granted to the user id (the experiment's owner is someone else)
    group_edit    Edit granted to an entitlement (group) the caller's token carries
    admin         a registered user holding the administrators' entitlement

Each test builds its own experiment (and drift run when the operation needs one) in a fresh
database and sends one real request. The tables below are written out cell by cell so they can
be audited against the rules: `caller: (status on a private experiment, on a public one)`.

Operations that do not involve an experiment (creating one, the /user and /entitlement
routes) only depend on who the caller is, so they are checked for the four kinds of identity:
anonymous, unregistered, registered and admin.

Besides the status, every response is checked for leaks: a caller who cannot read a private
experiment never sees its name or its permission entities, a caller below Manage never sees the
permission list, and a hidden experiment's 404 is the very answer a non-existent id gets.
A refused request must leave the database as it was.

Two smaller tests close the module: a drift run cannot be reached through another experiment's
path, and a search filter on `permissions.entity` must not let a caller below Manage test who
holds a permission.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from factories import ADMINS_GROUP, API, USERS_GROUP, run_body

TEAM_GROUP = "urn:example:drift-monitor:team-blue"
# Granted on every experiment and held by nobody: it must only ever show up to Manage callers.
AUDITORS_GROUP = "urn:example:drift-monitor:auditors"

CALLERS = ("anonymous", "unregistered", "registered", "read", "edit", "manage", "group_edit", "admin")
IDENTITY_CALLERS = ("anonymous", "unregistered", "registered", "admin")
# Callers who see permission lists.
MANAGERS = {"manage", "admin"}
SUCCESS = {200, 201, 204}

# ─── The matrix ──────────────────────────────────────────────────────────────────────────────
# caller:            (private, public)

GET_EXPERIMENT = {  # Read
    "anonymous":     (404, 200),
    "unregistered":  (404, 200),
    "registered":    (404, 200),
    "read":          (200, 200),
    "edit":          (200, 200),
    "manage":        (200, 200),
    "group_edit":    (200, 200),
    "admin":         (200, 200),
}
PUT_EXPERIMENT = {  # Manage
    "anonymous":     (401, 401),
    "unregistered":  (404, 403),
    "registered":    (404, 403),
    "read":          (403, 403),
    "edit":          (403, 403),
    "manage":        (200, 200),
    "group_edit":    (403, 403),
    "admin":         (200, 200),
}
PATCH_EXPERIMENT = {  # Manage
    "anonymous":     (401, 401),
    "unregistered":  (404, 403),
    "registered":    (404, 403),
    "read":          (403, 403),
    "edit":          (403, 403),
    "manage":        (200, 200),
    "group_edit":    (403, 403),
    "admin":         (200, 200),
}
DELETE_EXPERIMENT = {  # Manage
    "anonymous":     (401, 401),
    "unregistered":  (404, 403),
    "registered":    (404, 403),
    "read":          (403, 403),
    "edit":          (403, 403),
    "manage":        (204, 204),
    "group_edit":    (403, 403),
    "admin":         (204, 204),
}
CREATE_DRIFT = {  # Edit
    "anonymous":     (401, 401),
    "unregistered":  (404, 403),
    "registered":    (404, 403),
    "read":          (403, 403),
    "edit":          (201, 201),
    "manage":        (201, 201),
    "group_edit":    (201, 201),
    "admin":         (201, 201),
}
SEARCH_DRIFTS = {  # Read
    "anonymous":     (404, 200),
    "unregistered":  (404, 200),
    "registered":    (404, 200),
    "read":          (200, 200),
    "edit":          (200, 200),
    "manage":        (200, 200),
    "group_edit":    (200, 200),
    "admin":         (200, 200),
}
GET_DRIFT = {  # Read
    "anonymous":     (404, 200),
    "unregistered":  (404, 200),
    "registered":    (404, 200),
    "read":          (200, 200),
    "edit":          (200, 200),
    "manage":        (200, 200),
    "group_edit":    (200, 200),
    "admin":         (200, 200),
}
PUT_DRIFT = {  # Edit
    "anonymous":     (401, 401),
    "unregistered":  (404, 403),
    "registered":    (404, 403),
    "read":          (403, 403),
    "edit":          (200, 200),
    "manage":        (200, 200),
    "group_edit":    (200, 200),
    "admin":         (200, 200),
}
PATCH_DRIFT = {  # Edit
    "anonymous":     (401, 401),
    "unregistered":  (404, 403),
    "registered":    (404, 403),
    "read":          (403, 403),
    "edit":          (200, 200),
    "manage":        (200, 200),
    "group_edit":    (200, 200),
    "admin":         (200, 200),
}
DELETE_DRIFT = {  # Edit
    "anonymous":     (401, 401),
    "unregistered":  (404, 403),
    "registered":    (404, 403),
    "read":          (403, 403),
    "edit":          (204, 204),
    "manage":        (204, 204),
    "group_edit":    (204, 204),
    "admin":         (204, 204),
}
# POST /experiment/search answers 200 to everyone; the cells say whether the experiment is listed.
SEARCH_EXPERIMENTS_LISTS_IT = {
    "anonymous":     (False, True),
    "unregistered":  (False, True),
    "registered":    (False, True),
    "read":          (True, True),
    "edit":          (True, True),
    "manage":        (True, True),
    "group_edit":    (True, True),
    "admin":         (True, True),
}

# Operations without an experiment: caller → status.
CREATE_EXPERIMENT = {"anonymous": 401, "unregistered": 403, "registered": 201, "admin": 201}
REGISTER_USER = {"anonymous": 401, "unregistered": 201, "registered": 409, "admin": 409}
GET_SELF = {"anonymous": 401, "unregistered": 403, "registered": 200, "admin": 200}
PUT_SELF = {"anonymous": 401, "unregistered": 403, "registered": 200, "admin": 200}
SEARCH_USERS = {"anonymous": 401, "unregistered": 403, "registered": 403, "admin": 200}
GET_ENTITLEMENTS = {"anonymous": 401, "unregistered": 200, "registered": 200, "admin": 200}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # formatted with {experiment} and {drift}
    table: dict
    body: Callable[[Scene], dict] | None = None  # the request body, built from the scene
    needs_run: bool = False  # the experiment gets one drift run before the request
    returns_experiment: bool = False


def _replacement(scene: Scene) -> dict:
    """A full experiment for PUT: new name and description, same visibility and permissions."""
    experiment = scene.experiment
    return {"name": f"renamed-{uuid.uuid4().hex[:8]}", "description": "replaced",
            "public": experiment["public"], "permissions": experiment["permissions"]}


EXPERIMENT = "/experiment/{experiment}"
DRIFTS = "/experiment/{experiment}/drift"
DRIFT = "/experiment/{experiment}/drift/{drift}"

EXPERIMENT_OPERATIONS = {
    "GET experiment": Operation("GET", EXPERIMENT, GET_EXPERIMENT, returns_experiment=True),
    "PUT experiment": Operation("PUT", EXPERIMENT, PUT_EXPERIMENT, _replacement, returns_experiment=True),
    "PATCH experiment": Operation("PATCH", EXPERIMENT, PATCH_EXPERIMENT, lambda scene: {"description": "patched"},
                                  returns_experiment=True),
    "DELETE experiment": Operation("DELETE", EXPERIMENT, DELETE_EXPERIMENT, needs_run=True),
    "POST drift": Operation("POST", DRIFTS, CREATE_DRIFT, lambda scene: run_body()),
    "POST drift/search": Operation("POST", f"{DRIFTS}/search", SEARCH_DRIFTS, lambda scene: {}, needs_run=True),
    "GET drift": Operation("GET", DRIFT, GET_DRIFT, needs_run=True),
    "PUT drift": Operation("PUT", DRIFT, PUT_DRIFT, lambda scene: run_body(job_status="Completed"), needs_run=True),
    "PATCH drift": Operation("PATCH", DRIFT, PATCH_DRIFT, lambda scene: {"tags": ["checked"]}, needs_run=True),
    "DELETE drift": Operation("DELETE", DRIFT, DELETE_DRIFT, needs_run=True),
}

IDENTITY_OPERATIONS = {
    "POST experiment": Operation("POST", "/experiment", CREATE_EXPERIMENT,
                                 lambda scene: {"name": f"experiment-{uuid.uuid4().hex[:8]}"}),
    "POST user": Operation("POST", "/user", REGISTER_USER),
    "GET user/self": Operation("GET", "/user/self", GET_SELF),
    "PUT user/self": Operation("PUT", "/user/self", PUT_SELF),
    "POST user/search": Operation("POST", "/user/search", SEARCH_USERS, lambda scene: {}),
    "GET entitlement": Operation("GET", "/entitlement", GET_ENTITLEMENTS),
}


def _experiment_cells():
    for name, operation in EXPERIMENT_OPERATIONS.items():
        assert set(operation.table) == set(CALLERS), name
        for caller in CALLERS:
            for public, expected in zip((False, True), operation.table[caller], strict=True):
                visibility = "public" if public else "private"
                yield pytest.param(name, caller, public, expected, id=f"{name}-{visibility}-{caller}")


def _search_cells():
    for caller in CALLERS:
        for public, listed in zip((False, True), SEARCH_EXPERIMENTS_LISTS_IT[caller], strict=True):
            visibility = "public" if public else "private"
            yield pytest.param(caller, public, listed, id=f"{visibility}-{caller}")


def _identity_cells():
    for name, operation in IDENTITY_OPERATIONS.items():
        assert set(operation.table) == set(IDENTITY_CALLERS), name
        for caller in IDENTITY_CALLERS:
            yield pytest.param(name, caller, operation.table[caller], id=f"{name}-{caller}")


# ─── Building one test's world ───────────────────────────────────────────────────────────────


@dataclass
class Scene:
    caller: str
    headers: dict[str, str]
    experiment: dict
    run: dict | None
    secrets: dict[str, list[str]]


def _grant(caller: str, user) -> list[dict]:
    """The permission that gives the caller its level (none for the callers without one)."""
    if caller in ("read", "edit", "manage"):
        return [{"entity": user.id, "level": caller.capitalize()}]
    if caller == "group_edit":
        return [{"entity": TEAM_GROUP, "level": "Edit"}]
    return []


@pytest.fixture
def new_caller(make_user):
    """new_caller(kind) → (User or None for anonymous, request headers)."""

    def make(kind: str):
        if kind == "anonymous":
            return None, {}
        entitlements = {
            "unregistered": (USERS_GROUP,),
            "group_edit": (USERS_GROUP, TEAM_GROUP),
            "admin": (USERS_GROUP, ADMINS_GROUP),
        }.get(kind, (USERS_GROUP,))
        user = make_user(entitlements=entitlements, register=kind != "unregistered")
        return user, user.headers

    return make


@pytest.fixture
def build_scene(new_caller, make_user, make_experiment, make_run):
    """build_scene(caller, public, with_run) → a Scene: someone else's experiment, the caller's grant."""

    def build(caller: str, public: bool, with_run: bool = False) -> Scene:
        owner = make_user()
        user, headers = new_caller(caller)
        experiment = make_experiment(
            owner, public=public, permissions=[{"entity": AUDITORS_GROUP, "level": "Read"}, *_grant(caller, user)]
        )
        run = make_run(owner, experiment) if with_run else None
        readable = public or caller not in ("anonymous", "unregistered", "registered")
        secrets = {
            # Entities of the permission list that are not the caller's own.
            "permission entities": [owner.id, AUDITORS_GROUP],
            "experiment name": [] if readable else [experiment["name"]],
        }
        return Scene(caller, headers, experiment, run, secrets)

    return build


# ─── Checks shared by the tests ──────────────────────────────────────────────────────────────


def _send(client, method: str, path: str, headers: dict, body: dict | None = None):
    return client.open(f"{API}{path}", method=method, headers=headers, json=body)


def _stored(db, scene: Scene) -> tuple:
    """What the database holds for the scene's experiment: the experiment and its runs."""
    experiment_id = scene.experiment["id"]
    return db.experiments.find_one({"_id": experiment_id}), list(db.drifts.find({"experiment_id": experiment_id}))


def _assert_status(response, expected: int) -> None:
    assert response.status_code == expected, (
        f"expected {expected}, got {response.status_code}: {response.get_data(as_text=True)}"
    )
    if expected == 401:
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer "), response.headers


def _assert_no_leak(response, scene: Scene) -> None:
    """Neither the body nor the headers carry what the caller may not know."""
    text = response.get_data(as_text=True) + json.dumps(dict(response.headers))
    hidden = dict(scene.secrets)
    if scene.caller in MANAGERS:
        hidden.pop("permission entities")
    for what, values in hidden.items():
        for value in values:
            assert value not in text, f"{what} {value!r} leaked to {scene.caller}: {text}"


def _assert_permissions_shown_to_managers_only(experiment: dict, scene: Scene) -> None:
    if scene.caller in MANAGERS:
        # No request of this module changes the permission list.
        assert experiment.get("permissions") == scene.experiment["permissions"], experiment
    else:
        assert "permissions" not in experiment, experiment


# ─── Tests ───────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(("operation", "caller", "public", "expected"), list(_experiment_cells()))
def test_experiment_operation(client, db, build_scene, operation, caller, public, expected):
    spec = EXPERIMENT_OPERATIONS[operation]
    scene = build_scene(caller, public, with_run=spec.needs_run)
    ids = {"experiment": scene.experiment["id"], "drift": scene.run["id"] if scene.run else None}
    body = spec.body(scene) if spec.body else None
    stored_before = _stored(db, scene)

    response = _send(client, spec.method, spec.path.format(**ids), scene.headers, body)

    _assert_status(response, expected)
    _assert_no_leak(response, scene)
    if expected not in SUCCESS:
        assert _stored(db, scene) == stored_before, "a refused request changed the database"
    if spec.returns_experiment and expected in SUCCESS:
        assert response.json["id"] == scene.experiment["id"]
        _assert_permissions_shown_to_managers_only(response.json, scene)
    if operation == "POST drift/search" and expected in SUCCESS:
        assert [run["id"] for run in response.json] == [scene.run["id"]]
    if expected == 404:
        # A hidden experiment answers exactly like one that does not exist.
        missing = str(uuid.uuid4())
        other = _send(client, spec.method, spec.path.format(**{**ids, "experiment": missing}), scene.headers, body)
        assert other.status_code == 404
        assert response.json == json.loads(other.get_data(as_text=True).replace(missing, scene.experiment["id"]))


@pytest.mark.parametrize(("caller", "public", "listed"), list(_search_cells()))
def test_experiment_search(client, build_scene, caller, public, listed):
    scene = build_scene(caller, public)

    response = _send(client, "POST", "/experiment/search", scene.headers, {})

    _assert_status(response, 200)
    _assert_no_leak(response, scene)
    found = [experiment for experiment in response.json if experiment["id"] == scene.experiment["id"]]
    assert len(found) == (1 if listed else 0), response.json
    for experiment in found:
        _assert_permissions_shown_to_managers_only(experiment, scene)


@pytest.mark.parametrize(("operation", "caller", "expected"), list(_identity_cells()))
def test_identity_operation(client, new_caller, operation, caller, expected):
    spec = IDENTITY_OPERATIONS[operation]
    user, headers = new_caller(caller)

    response = _send(client, spec.method, spec.path, headers, spec.body(None) if spec.body else None)

    _assert_status(response, expected)
    if expected in SUCCESS and operation in ("GET user/self", "PUT user/self"):
        assert response.json["id"] == user.id
    if expected in SUCCESS and operation == "POST experiment":
        assert response.json["permissions"] == [{"entity": user.id, "level": "Manage"}]
    if expected in SUCCESS and operation == "GET entitlement":
        assert USERS_GROUP in response.json["items"]


# A drift run is reached only through its own experiment: Manage on one experiment gives
# nothing on the runs of another (private) one, whatever run id is put in the path.
@pytest.mark.parametrize(("method", "body"), [
    pytest.param("GET", None, id="GET"),
    pytest.param("PUT", run_body(job_status="Completed"), id="PUT"),
    pytest.param("PATCH", {"tags": ["hijacked"]}, id="PATCH"),
    pytest.param("DELETE", None, id="DELETE"),
])
def test_drift_run_of_another_experiment(client, db, make_user, make_experiment, make_run, method, body):
    owner, caller = make_user(), make_user()
    hidden = make_experiment(owner, permissions=[{"entity": AUDITORS_GROUP, "level": "Read"}])
    hidden_run = make_run(owner, hidden)
    own = make_experiment(caller)

    response = _send(client, method, f"/experiment/{own['id']}/drift/{hidden_run['id']}", caller.headers, body)

    _assert_status(response, 404)
    text = response.get_data(as_text=True)
    for secret in (hidden["id"], hidden["name"], owner.id, AUDITORS_GROUP):
        assert secret not in text
    stored = db.drifts.find_one({"_id": hidden_run["id"]})
    assert stored is not None and stored["experiment_id"] == hidden["id"]
    assert stored["tags"] == [] and stored["job_status"] == "Running"


# Callers below Manage who can read the experiment: they must not learn its permission list,
# not even one entity at a time through a search filter on `permissions.entity`.
@pytest.mark.parametrize(("caller", "public"), [
    pytest.param("anonymous", True, id="public-anonymous"),
    pytest.param("read", False, id="private-read"),
])
def test_search_filter_cannot_probe_permission_list(client, build_scene, caller, public):
    scene = build_scene(caller, public)
    holder, stranger = AUDITORS_GROUP, "urn:example:drift-monitor:nobody"

    def probe(entity: str):
        response = _send(client, "POST", "/experiment/search", scene.headers,
                         {"id": scene.experiment["id"], "permissions.entity": entity})
        return response.status_code, response.get_data(as_text=True)

    assert probe(holder) == probe(stranger), "the answer tells who holds a permission"
