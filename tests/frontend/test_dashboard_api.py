"""The dashboard's data layer without a server: settings, token claims, error explanations."""

import base64
import json

import pytest
from drift_monitor import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ServerError,
    TransportError,
    ValidationError,
)

from dashboard import api


def jwt(claims: dict) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"header.{payload}.signature"


def test_settings_never_take_credentials_from_the_environment():
    settings = api.settings({"DRIFT_MONITOR_URL": "http://api", "DRIFT_MONITOR_TOKEN": "cli-token",
                             "DRIFT_MONITOR_MYTOKEN": "cli-mytoken"})
    assert settings.url == "http://api" and settings.token is None and settings.mytoken is None


def test_mytoken_server_from_the_dashboard_variable_then_the_clients():
    both = {"DRIFT_MONITOR_MYTOKEN_SERVER": "http://dashboard-mt", "MYTOKEN_SERVER": "http://client-mt"}
    assert api.settings(both).mytoken_server == "http://dashboard-mt"
    assert api.settings({"MYTOKEN_SERVER": "http://client-mt"}).mytoken_server == "http://client-mt"


def test_token_claims_and_display_name():
    claims = api.token_claims(jwt({"sub": "s1", "email": "a@example.org"}))
    assert claims == {"sub": "s1", "email": "a@example.org"}
    assert api.token_claims("opaque") == {} and api.token_claims(None) == {} and api.token_claims("a.!!.c") == {}
    assert api.display_name({"email": "user@record"}, claims) == "user@record"
    assert api.display_name(None, claims) == "a@example.org"
    assert api.display_name(None, {"sub": "s1"}) == "s1"
    assert api.display_name(None, {}) is None


def test_name_filter_escapes_the_search_text():
    assert api.name_filter("  ") == {}
    assert api.name_filter("a.b (x)") == {"name": {"$regex": r"a\.b\ \(x\)", "$options": "i"}}


SECRET = "eyJ.secret-token.value"


@pytest.mark.parametrize(("error", "problem", "advice"), [
    (ConfigurationError("the Drift Monitoring server is not configured: set DRIFT_MONITOR_URL"),
     "DRIFT_MONITOR_URL", "restart"),
    (TransportError("POST http://api:5000/api/v1/experiment/search failed: refused"),
     "Cannot reach the Drift Monitoring API at http://api:5000", "DRIFT_MONITOR_URL"),
    (TransportError("cannot reach the MyToken server at http://mt (MYTOKEN_SERVER): refused"),
     "MyToken server", "DRIFT_MONITOR_MYTOKEN_SERVER"),
    (AuthenticationError(401, "token expired"), "expired", "Log in again"),
    (NotFound(404, "experiment x not found"), "no access", "log in"),
    (PermissionDenied(403, "register first: POST /api/v1/user"), "Not allowed", "Register"),
    (PermissionDenied(403, "this operation needs Manage permission"), "Manage", "managers"),
    (ValidationError(422, "Unprocessable", errors={"json": {"permissions": ["no entity with Manage permission"]}}),
     "permissions: no entity with Manage permission", "filters"),
    (ServerError(503, "database unavailable"), "503", "Try again"),
    (Conflict(409, "name taken"), "409: name taken", ""),
])
def test_errors_are_explained_with_what_to_do(error, problem, advice):
    explanation = api.explain(error, url="http://api:5000")
    assert problem in explanation.problem
    assert advice in explanation.advice
    assert explanation.expired_login == isinstance(error, AuthenticationError)
    assert SECRET not in explanation.problem + explanation.advice


def test_field_errors_are_flattened():
    error = ValidationError(422, "Unprocessable Entity", errors={"query": {"tag": {"0": ["Longer than 20."]},
                                                                            "since": ["Not a date."]}})
    assert api.explain(error).problem == ("The API refused the request: Unprocessable Entity "
                                          "(tag.0: Longer than 20., since: Not a date.)")


def test_not_found_advice_depends_on_being_logged_in():
    error = NotFound(404, "experiment x not found")
    assert "log in" in api.explain(error, logged_in=False).advice
    assert "ask the experiment's managers" in api.explain(error, logged_in=True).advice.lower()


def test_unreachable_without_a_url_says_it_is_not_set():
    assert "not set" in api.explain(TransportError("boom"), url=None).problem
